import type http from "node:http";
import type { AuditDecision } from "./audit.js";
import { requestRecorder } from "./audit-record.js";
import type { ProxyContext } from "./context.js";
import { decideBody, decideHead, shown, type Refusal } from "./decide.js";
import { upstreamHeaders } from "./headers.js";
import { redactBody, responseHeaders } from "./response-redact.js";
import { pathOnly, resolveTarget, type TunnelContext } from "./target.js";
import { errorCode } from "./upstream.js";

/** Sized responses up to this many bytes are sent in one piece with their headers. */
const SMALL_RESPONSE = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * One HTTP request from the agent (absolute-form, or inside a CONNECT tunnel): decide on its
 * head, read its body, decide on that, then forward it and stream the answer back.
 */
export async function handleRequest(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse, tunnel: TunnelContext | undefined) {
  const started = performance.now();
  const id = ctx.nextId();
  const method = req.method ?? "GET";
  const target = resolveTarget(req, tunnel);
  if (!target) {
    if (!tunnel && req.url === "/healthz") return void res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    return void sendText(res, 400, "bottle egress: this is a forward proxy; send absolute-form URLs or CONNECT.\n", id);
  }
  const cfg = ctx.config();
  const record = requestRecorder(ctx.audit, cfg, target, id, method, started);
  const head = { scheme: target.scheme, host: target.host, port: target.port, method, path: target.path, pathname: target.pathname, rawHeaders: req.rawHeaders };
  const first = decideHead(cfg, head);
  if (first.action === "refuse") return refuse(first);
  const route = first.route;

  const read = await readBody(req, ctx.limits.maxBodyBytes);
  if (read === "aborted") return record("error", 0, route.id, { reason: "client-aborted" });
  const decision = await decideBody(cfg, head, first, { headers: req.headers, body: read }, ctx.limits);
  if (decision.path !== undefined && decision.path !== target.path) {
    target.path = decision.path;
    target.pathname = pathOnly(decision.path);
  }
  if (decision.action === "refuse") return refuse(decision);
  const redactions = decision.redactions;
  const body = decision.body;
  const headers = upstreamHeaders(req.rawHeaders, target, route, cfg.secrets);
  if (body.length > 0 || req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined) {
    headers.push("content-length", String(body.length));
  }

  function refuse(r: Refusal) {
    if (r.closeConnection) res.setHeader("connection", "close");
    sendText(res, r.status, r.text, id, r.decision);
    if (r.closeConnection) req.resume();
    record(r.decision, r.status, r.route, { reason: r.reason, ...(r.bytesIn !== undefined ? { bytesIn: r.bytesIn } : {}) });
  }
  const injected = route.inject.map((i) => cfg.secrets[i.secret]).filter((v): v is string => !!v);

  const counts = { status: 0, bytesOut: 0 };
  let done = false;
  const finish = (decision: AuditDecision, reason?: string) => {
    if (done) return;
    done = true;
    // A forwarded request that had findings replaced is recorded as `redact`, with what and how often.
    const redacted = decision === "allow" && redactions.length > 0;
    const extra = { bytesIn: body.length, bytesOut: counts.bytesOut, ...(reason ? { reason } : {}), ...(redactions.length > 0 ? { redactions } : {}) };
    record(redacted ? "redact" : decision, counts.status, route.id, extra);
  };
  const upReq = ctx.upstream.request(target, method, headers);
  upReq.on("response", (upRes) => {
    counts.status = upRes.statusCode ?? 502;
    relayResponse(upRes, res, injected, counts);
    res.on("finish", () => finish("allow"));
  });
  upReq.on("error", (err) => {
    if (!res.headersSent) {
      counts.status = 502;
      const { host, port } = shown(cfg, target);
      sendText(res, 502, `bottle egress: upstream ${host}:${port} failed (${errorCode(err)}).\n`, id, "error");
      finish("error", errorCode(err));
    } else {
      res.destroy();
      finish("allow", `upstream-${errorCode(err)}`);
    }
  });
  res.on("close", () => {
    if (!res.writableFinished) {
      upReq.destroy();
      finish("allow", "client-closed");
    }
  });
  upReq.end(body.length > 0 ? body : undefined);
}

/** The upstream's answer to the agent: small sized bodies in one piece (echoes redacted), the rest streamed. */
function relayResponse(upRes: http.IncomingMessage, res: http.ServerResponse, injected: string[], counts: { status: number; bytesOut: number }) {
  const status = counts.status;
  const outHeaders = responseHeaders(upRes.rawHeaders, injected);
  const declared = Number(upRes.headers["content-length"] ?? Number.NaN);
  if (declared <= SMALL_RESPONSE) {
    // A small sized body leaves together with the headers (one TLS record, one syscall),
    // after any echo of an injected credential in it is replaced.
    const chunks: Buffer[] = [];
    upRes.on("data", (chunk: Buffer) => {
      counts.bytesOut += chunk.length;
      chunks.push(chunk);
    });
    upRes.on("end", () => {
      let body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const redacted = redactBody(body, injected);
      if (redacted !== body) {
        body = redacted;
        for (let i = 0; i + 1 < outHeaders.length; i += 2) {
          if (outHeaders[i]!.toLowerCase() === "content-length") outHeaders[i + 1] = String(body.length);
        }
      }
      res.writeHead(status, upRes.statusMessage, outHeaders);
      res.end(body);
    });
  } else {
    res.writeHead(status, upRes.statusMessage, outHeaders);
    // Streams (SSE, chunked) get their headers at once; large sized bodies with the first chunk.
    if (Number.isNaN(declared)) res.flushHeaders();
    // Chunks that arrive in one tick leave in one writev (fewer TLS records and syscalls);
    // nothing waits longer than the current tick, so streams stay unbuffered.
    let corked = false;
    const uncork = () => {
      corked = false;
      res.uncork();
    };
    upRes.on("data", (chunk: Buffer) => {
      counts.bytesOut += chunk.length;
      if (!corked) {
        corked = true;
        res.cork();
        process.nextTick(uncork);
      }
      if (!res.write(chunk)) upRes.pause();
    });
    res.on("drain", () => upRes.resume());
    upRes.on("end", () => res.end());
  }
  upRes.on("close", () => {
    if (!upRes.complete) res.destroy();
  });
  upRes.on("error", () => res.destroy());
}

/** The whole request body, unless it passes `max` or the client goes away first. */
export function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | "too-large" | "aborted"> {
  const declared = req.headers["content-length"];
  if (declared === undefined && req.headers["transfer-encoding"] === undefined) return Promise.resolve(EMPTY);
  if (declared !== undefined && Number(declared) > max) return Promise.resolve("too-large");
  if (declared === "0") return Promise.resolve(EMPTY);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.off("data", onData);
        req.pause();
        resolve("too-large");
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once("aborted", () => resolve("aborted"));
    req.once("error", () => resolve("aborted"));
  });
}

/** A short text answer from egress itself (refusals, errors), with its request id and decision. */
export function sendText(res: http.ServerResponse, status: number, text: string, id: string, decision?: string) {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "x-bottle-request-id": id,
    ...(decision ? { "x-bottle-egress-decision": decision } : {}),
  });
  res.end(text);
}
