// HTTPS on 443 (and plain HTTP on 80): answers every request with a small JSON that says
// which headers arrived (names only; values stay here), records the full request in
// /var/log/upstream/requests.jsonl for the test to read. UDP on 5353 records datagrams.
import { appendFileSync, readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import dgram from "node:dgram";

const log = (file, record) => appendFileSync(`/var/log/upstream/${file}`, `${JSON.stringify({ at: new Date().toISOString(), ...record })}\n`);

function handle(req, res) {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    log("requests.jsonl", { host: req.headers.host, method: req.method, url: req.url, headers: req.headers, body });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ ok: true, host: req.headers.host, path: req.url, headerNames: Object.keys(req.headers).sort() }));
  });
}

https.createServer({ cert: readFileSync("/fixture/tls.crt"), key: readFileSync("/fixture/tls.key") }, handle).listen(443);
http.createServer(handle).listen(80);
const udp = dgram.createSocket("udp4");
udp.on("message", (msg, rinfo) => log("udp.jsonl", { from: rinfo.address, text: msg.toString("utf8") }));
udp.bind(5353);
console.log("upstream ready");
