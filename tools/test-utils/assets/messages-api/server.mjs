// Test-only: a scripted stand-in for the Anthropic Messages API, so the real Claude Code
// can run in a bottle without the real API. HTTPS on 443 with per-host certificates from
// /fixture/certs/<host>.crt|.key (SNI), plain HTTP on 80. Every request (headers and body)
// is appended to /var/log/messages-api/requests.jsonl for the test to read.
//
// The main conversation (a request whose `tools` include Bash) follows a script carried in
// the first user message between `<<bottle-script>>` and `<<end-script>>`: a JSON array of
// steps `{ "tool": "<name>", "input": {…} }` or `{ "text": "…" }`. Step n is answered once
// n tool results are in the conversation; after the last step the model answers
// `SCRIPT DONE` followed by the text of the last tool result, so the client prints what its
// tools returned. Without a script the model says hello. Side requests (titles, quota
// checks, summaries) get a short text answer.
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import tls from "node:tls";

const LOG_DIR = "/var/log/messages-api";
mkdirSync(LOG_DIR, { recursive: true });
const MODEL = "claude-sonnet-4-5-20250929";
let counter = 0;
const nextId = (prefix) => `${prefix}_bottle${String(++counter).padStart(6, "0")}`;

function record(req, body) {
  let json;
  try {
    json = body ? JSON.parse(body) : undefined;
  } catch {
    json = undefined;
  }
  const line = { at: new Date().toISOString(), host: req.headers.host, method: req.method, url: req.url, headers: req.headers, body, json };
  appendFileSync(`${LOG_DIR}/requests.jsonl`, `${JSON.stringify(line)}\n`);
  return json;
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((b) => (b.type === "text" ? b.text : b.type === "tool_result" ? textOf(b.content) : "")).join("\n");
}

function scriptOf(messages) {
  for (const m of messages) {
    if (m.role !== "user") continue;
    const match = /<<bottle-script>>([\s\S]*?)<<end-script>>/.exec(textOf(m.content));
    if (match) return JSON.parse(match[1]);
  }
  return undefined;
}

/** The content blocks the model answers with, decided from the request. */
function answer(request) {
  const messages = request.messages ?? [];
  const isMain = Array.isArray(request.tools) && request.tools.some((t) => t.name === "Bash");
  if (!isMain) return { blocks: [{ type: "text", text: "Scripted side answer." }], stop: "end_turn" };
  const script = scriptOf(messages);
  if (!script) return { blocks: [{ type: "text", text: "Hello from the scripted model." }], stop: "end_turn" };
  const results = messages.flatMap((m) => (m.role === "user" && Array.isArray(m.content) ? m.content.filter((b) => b.type === "tool_result") : []));
  const step = script[results.length];
  if (step?.tool) return { blocks: [{ type: "tool_use", id: nextId("toolu"), name: step.tool, input: step.input ?? {} }], stop: "tool_use" };
  const last = results.at(-1);
  const text = step?.text ?? `SCRIPT DONE\n${last ? textOf(last.content) : ""}`;
  return { blocks: [{ type: "text", text }], stop: "end_turn" };
}

function usage() {
  return { input_tokens: 12, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}

function sendStream(res, model, { blocks, stop }) {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "request-id": nextId("req") });
  const event = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  event("message_start", { message: { id: nextId("msg"), type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: usage() } });
  event("ping", {});
  blocks.forEach((block, index) => {
    if (block.type === "text") {
      event("content_block_start", { index, content_block: { type: "text", text: "" } });
      // several deltas, as the real API sends
      const words = block.text.match(/[\s\S]{1,24}/g) ?? [""];
      for (const piece of words) event("content_block_delta", { index, delta: { type: "text_delta", text: piece } });
    } else {
      event("content_block_start", { index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } });
      const json = JSON.stringify(block.input);
      const half = Math.ceil(json.length / 2);
      for (const piece of [json.slice(0, half), json.slice(half)]) event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: piece } });
    }
    event("content_block_stop", { index });
  });
  event("message_delta", { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 7 } });
  event("message_stop", {});
  res.end();
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "request-id": nextId("req") });
  res.end(body);
}

function handle(req, res) {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const json = record(req, body);
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "POST" && path === "/v1/messages/count_tokens") return sendJson(res, 200, { input_tokens: 42 });
    if (req.method === "POST" && path === "/v1/messages") {
      const reply = answer(json ?? {});
      const model = json?.model ?? MODEL;
      if (json?.stream) return sendStream(res, model, reply);
      return sendJson(res, 200, { id: nextId("msg"), type: "message", role: "assistant", model, content: reply.blocks, stop_reason: reply.stop, stop_sequence: null, usage: usage() });
    }
    if (path === "/api/hello" || path.endsWith("/oauth/hello")) return sendJson(res, 200, { message: "hello" });
    sendJson(res, 404, { type: "error", error: { type: "not_found_error", message: `scripted server: no ${req.method} ${path}` } });
  });
}

const certs = new Map();
for (const file of readdirSync("/fixture/certs")) {
  if (!file.endsWith(".crt")) continue;
  const host = file.slice(0, -4);
  certs.set(host, tls.createSecureContext({ cert: readFileSync(`/fixture/certs/${host}.crt`), key: readFileSync(`/fixture/certs/${host}.key`) }));
}
const [firstHost] = certs.keys();
https
  .createServer({ SNICallback: (name, cb) => cb(null, certs.get(name) ?? certs.get(firstHost)), ...certOptions(firstHost) }, handle)
  .listen(443);
http.createServer(handle).listen(80);
console.log("messages-api ready");

function certOptions(host) {
  return { cert: readFileSync(`/fixture/certs/${host}.crt`), key: readFileSync(`/fixture/certs/${host}.key`) };
}
