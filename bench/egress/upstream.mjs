// Benchmark upstream: HTTPS on loopback. GET /1k → 1 KiB, GET /10m → 10 MiB,
// POST /v1/messages → reads the whole body, then a Messages-API-shaped SSE answer of 40 events
// (the first at once, the rest one per event-loop turn, as a model streams tokens).
// Answers `x-saw-key: 1` when the request carried the expected injected credential.
import https from "node:https";
import { readFileSync } from "node:fs";

const [certFile, keyFile, secret] = process.argv.slice(2);
const small = Buffer.alloc(1024, 0x61);
const chunk = Buffer.alloc(64 * 1024, 0x62);
const SSE_EVENTS = [
  `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","content":[],"model":"claude-bench","stop_reason":null,"usage":{"input_tokens":1000,"output_tokens":1}}}\n\n`,
  `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
  ...Array.from({ length: 35 }, (_, i) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"word${i} of the streamed answer "}}\n\n`),
  `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`,
  `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":35}}\n\n`,
  `event: message_stop\ndata: {"type":"message_stop"}\n\n`,
];

const server = https.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile), keepAliveTimeout: 60_000 }, (req, res) => {
  const saw = req.headers["x-api-key"] === secret ? "1" : "0";
  if (req.method === "POST" && req.url?.startsWith("/v1/messages")) {
    let size = 0;
    req.on("data", (c) => (size += c.length));
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-saw-key": saw, "x-body-bytes": String(size) });
      let i = 0;
      const next = () => {
        res.write(SSE_EVENTS[i++]);
        if (i < SSE_EVENTS.length) setImmediate(next);
        else res.end();
      };
      next();
    });
    return;
  }
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
