// Benchmark upstream: HTTPS on loopback. GET /1k → 1 KiB, GET /10m → 10 MiB.
// Answers `x-saw-key: 1` when the request carried the expected injected credential.
import https from "node:https";
import { readFileSync } from "node:fs";

const [certFile, keyFile, secret] = process.argv.slice(2);
const small = Buffer.alloc(1024, 0x61);
const chunk = Buffer.alloc(64 * 1024, 0x62);
const server = https.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile), keepAliveTimeout: 60_000 }, (req, res) => {
  const saw = req.headers["x-api-key"] === secret ? "1" : "0";
  if (req.url === "/10m") {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": 160 * chunk.length, "x-saw-key": saw });
    let sent = 0;
    const pump = () => {
      while (sent < 160) {
        sent++;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
    return;
  }
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": small.length, "x-saw-key": saw });
  res.end(small);
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
process.on("SIGTERM", () => process.exit(0));
