import http from "node:http";
import type net from "node:net";
import { requestRecorder } from "./audit-record.js";
import type { Config } from "./config.js";
import type { ProxyContext } from "./context.js";
import { decideUpgrade, shown } from "./decide.js";
import { HOP_BY_HOP, upstreamHeaders } from "./headers.js";
import { redactHeaders } from "./response-redact.js";
import { resolveTarget, type TunnelContext } from "./target.js";
import { errorCode } from "./upstream.js";
import { createFrameRelay, type FrameRelay } from "./websocket-inspect.js";

/**
 * A WebSocket upgrade from the agent: decided like a request's head, forwarded with the
 * route's credentials, then every frame inspected both ways (websocket-inspect.ts).
 */
export async function handleUpgrade(ctx: ProxyContext, req: http.IncomingMessage, socket: net.Socket, head: Buffer, tunnel: TunnelContext | undefined) {
  const started = performance.now();
  const id = ctx.nextId();
  const method = req.method ?? "GET";
  const target = resolveTarget(req, tunnel);
  socket.on("error", () => socket.destroy());
  if (!target) return void socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
  target.kind = "websocket";
  const cfg = ctx.config();
  const record = requestRecorder(ctx.audit, cfg, target, id, method, started);
  const refuse = (status: number, text: string) => {
    const body = Buffer.from(text);
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
        `x-bottle-request-id: ${id}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${text}`,
    );
  };
  const decision = decideUpgrade(cfg, { scheme: target.scheme, host: target.host, port: target.port, method, path: target.path, pathname: target.pathname, rawHeaders: req.rawHeaders });
  if (decision.action === "refuse") {
    refuse(decision.status, decision.text);
    return record(decision.decision, decision.status, decision.route, { reason: decision.reason });
  }
  const { route, allowedSecrets } = decision;
  const headers = upstreamHeaders(req.rawHeaders, target, route, cfg.secrets);
  headers.push("connection", "Upgrade", "upgrade", req.headers["upgrade"] ?? "websocket");
  const injected = route.inject.map((i) => cfg.secrets[i.secret]).filter((v): v is string => !!v);
  const upReq = ctx.upstream.request(target, method, headers);
  let bytesIn = 0;
  let bytesOut = 0;
  upReq.on("upgrade", (upRes, upSocket: net.Socket, upHead: Buffer) => {
    const lines = [`HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage ?? ""}`];
    const raw = redactHeaders(upRes.rawHeaders, injected);
    for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
    socket.write(lines.join("\r\n") + "\r\n\r\n");
    upSocket.setTimeout(ctx.idleMs, () => upSocket.destroy());
    // Frames are inspected in both directions before they pass (websocket-inspect.ts).
    let blockedBy: string | undefined;
    const relays = websocketRelays(cfg, upRes, allowedSecrets, ctx.limits.maxBodyBytes, socket, upSocket, (reason) => {
      blockedBy ??= reason;
      socket.destroy();
      upSocket.destroy();
    });
    if (upHead.length > 0) relays.inbound.push(upHead);
    if (head.length > 0) relays.outbound.push(head);
    upSocket.on("data", (c: Buffer) => {
      bytesOut += c.length;
      relays.inbound.push(c);
    });
    socket.on("data", (c: Buffer) => {
      bytesIn += c.length;
      relays.outbound.push(c);
    });
    upSocket.on("error", () => socket.destroy());
    socket.on("close", () => upSocket.destroy());
    upSocket.on("close", () => {
      socket.destroy();
      if (blockedBy) record("block-leak", 101, route.id, { reason: blockedBy, bytesIn, bytesOut });
      else record("allow", 101, route.id, { bytesIn, bytesOut });
    });
  });
  upReq.on("response", (upRes) => {
    // Upstream refused the upgrade: relay its answer and close.
    const raw = redactHeaders(upRes.rawHeaders, injected).filter((_, i, a) => (i % 2 === 0 ? !HOP_BY_HOP.has(String(a[i]).toLowerCase()) : !HOP_BY_HOP.has(String(a[i - 1]).toLowerCase())));
    const lines = [`HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage ?? ""}`];
    for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
    lines.push("connection: close");
    socket.write(lines.join("\r\n") + "\r\n\r\n");
    upRes.pipe(socket);
    record("allow", upRes.statusCode ?? 0, route.id);
  });
  upReq.on("error", (err) => {
    const { host, port } = shown(cfg, target);
    refuse(502, `bottle egress: upstream ${host}:${port} failed (${errorCode(err)}).\n`);
    record("error", 502, route.id, { reason: errorCode(err) });
  });
  upReq.end();
}

/**
 * The two inspected directions of an upgraded WebSocket. Outbound messages may carry the
 * route's own injected secrets (as its requests may); inbound ones carry none into the agent.
 */
function websocketRelays(
  cfg: Config,
  upRes: http.IncomingMessage,
  allowedSecrets: ReadonlySet<string>,
  maxMessageBytes: number,
  client: net.Socket,
  server: net.Socket,
  block: (reason: string) => void,
): { outbound: FrameRelay; inbound: FrameRelay } {
  const deflate = /permessage-deflate/i.test(String(upRes.headers["sec-websocket-extensions"] ?? ""));
  const relay = (to: net.Socket, allowed: ReadonlySet<string>) =>
    createFrameRelay({
      deflate,
      maxMessageBytes,
      inspect: (payload) => cfg.detector.findInBuffer(payload).find((id) => !allowed.has(id)),
      forward: (frames) => void to.write(frames),
      block,
    });
  return { outbound: relay(server, allowedSecrets), inbound: relay(client, new Set()) };
}
