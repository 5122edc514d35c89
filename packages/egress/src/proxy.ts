import { randomBytes } from "node:crypto";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { readFile, stat } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import { loadBottleCa, mintLeafCertificate, type BottleCa } from "@bottle/ca";
import { BottleError } from "@bottle/errors";
import { openAuditTrail, nullAuditTrail, type AuditDecision, type AuditRecord, type AuditTrail } from "./audit.js";
import { createLeakDetector, type LeakDetector } from "./leaks.js";
import { inspectRequest } from "./inspect.js";
import { findMethodOverride } from "./method-override.js";
import { decodeBody, type BodyRefusal } from "./normalize.js";
import { createFrameRelay, type FrameRelay } from "./websocket-inspect.js";
import { matchRoute, parseRoutesFile, routesForAuthority, type DenyReason, type EgressRoutePlan } from "./routes.js";
import { DEFAULT_SCAN_LIMIT } from "./scan.js";

export interface EgressProxyOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** routes.json (docs/bundle-contract.md); re-read on reload. */
  routesFile: string;
  /** secrets.json `{ "<id>": "<value>" }`; re-read on reload. */
  secretsFile?: string;
  /** Bottle CA used to mint leaf certificates for intercepted hosts. */
  caCertFile: string;
  caKeyFile: string;
  /** `http://host:port` of a proxy all upstream traffic goes through (CONNECT for https). */
  upstreamProxy?: string;
  /** Extra PEM bundle trusted for upstream TLS, on top of the system roots. */
  upstreamCaFile?: string;
  /** JSON-lines audit trail; rotated to `<file>.1` past `auditMaxBytes` (default 64 MiB). */
  auditFile?: string;
  auditMaxBytes?: number;
  /** Request bodies larger than this get 413 (default 32 MiB). */
  maxBodyBytes?: number;
  /** Bytes of a body given to the pattern scanner (default 4 MiB). */
  scanLimitBytes?: number;
  /**
   * TEST ONLY: resolve these host names to these addresses instead of asking DNS
   * (e.g. `{ "api.test": "127.0.0.1" }`).
   */
  hosts?: Record<string, string>;
  /** Where operational messages go (never secret values); default stderr. */
  log?: (line: string) => void;
  /** A client or tunnel socket with no traffic for this long is closed (default 10 min). */
  idleTimeoutMs?: number;
}

export interface EgressProxy {
  port: number;
  /** Re-reads routes and secrets; on error keeps the old config, logs and rejects. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

interface Config {
  routes: EgressRoutePlan[];
  secrets: Record<string, string>;
  detector: LeakDetector;
}

interface TunnelContext {
  scheme: "http" | "https";
  host: string;
  port: number;
  client: string;
}

interface Target {
  scheme: "http" | "https";
  host: string;
  port: number;
  /** Path with query, as sent upstream. */
  path: string;
  pathname: string;
  client: string;
  kind: AuditRecord["kind"];
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
const DEFAULT_MAX_BODY = 32 * 1024 * 1024;
const DEFAULT_IDLE_MS = 10 * 60 * 1000;
const MAX_LEAF_CACHE = 4096;
/** Sized responses up to this many bytes are sent in one piece with their headers. */
const SMALL_RESPONSE = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/** Starts the egress forward proxy (plain HTTP, CONNECT, TLS interception). */
export async function startEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  const log = options.log ?? ((line: string) => process.stderr.write(`egress: ${line}\n`));
  const ca = await loadBottleCa({
    certPem: await readRequired(options.caCertFile, "CA certificate"),
    keyPem: await readRequired(options.caKeyFile, "CA key"),
  });
  let config = await loadConfig(options, log);
  const audit: AuditTrail = options.auditFile ? openAuditTrail(options.auditFile, options.auditMaxBytes) : nullAuditTrail;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const scanLimit = options.scanLimitBytes ?? DEFAULT_SCAN_LIMIT;
  const upstream = await createUpstream(options);
  const leafContexts = new Map<string, Promise<tls.SecureContext>>();
  const tunnels = new WeakMap<net.Socket, TunnelContext>();
  const idPrefix = randomBytes(3).toString("hex");
  let counter = 0;
  const nextId = () => `${idPrefix}-${(++counter).toString(36)}`;
  /** One audit line per request or upgrade; paths keep no query and no secret values. */
  const auditRecorder =
    (cfg: Config, target: Target, id: string, method: string, started: number) =>
    (decision: AuditDecision, status: number, route: string | null, extra: Partial<AuditRecord> = {}) =>
      audit.write({
        time: new Date().toISOString(),
        id,
        client: target.client,
        kind: target.kind,
        method,
        host: cfg.detector.redactHost(target.host),
        port: target.port,
        path: cfg.detector.redact(target.pathname),
        decision,
        route,
        status,
        bytesIn: 0,
        bytesOut: 0,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        ...extra,
      });

  const front = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 });
  const inner = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 });
  const sockets = new Set<net.Socket>();

  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_MS;
  front.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.setNoDelay(true);
    // Every client socket (requests, CONNECT tunnels, upgraded streams) ends when idle.
    s.setTimeout(idleMs, () => s.destroy());
    s.on("close", () => sockets.delete(s));
  });
  // A bug in one request must not take the proxy down: answer 500 (or drop the stream) and log.
  const failed = (what: string, res?: http.ServerResponse, socket?: net.Socket) => (err: unknown) => {
    log(`internal error in ${what}: ${(err as Error)?.stack ?? String(err)}`);
    if (res && !res.headersSent) sendText(res, 500, "bottle egress: internal error.\n", "internal", "error");
    else if (res) res.destroy();
    socket?.destroy();
  };
  front.on("request", (req, res) => void handleRequest(req, res, undefined).catch(failed("request", res)));
  inner.on("request", (req, res) => void handleRequest(req, res, tunnels.get(req.socket)).catch(failed("request", res)));
  front.on("upgrade", (req, socket, head) => void handleUpgrade(req, socket as net.Socket, head, undefined).catch(failed("upgrade", undefined, socket as net.Socket)));
  inner.on("upgrade", (req, socket, head) =>
    void handleUpgrade(req, socket as net.Socket, head, tunnels.get(socket as net.Socket)).catch(failed("upgrade", undefined, socket as net.Socket)),
  );
  front.on("connect", (req, socket, head) => void handleConnect(req, socket as net.Socket, head).catch(failed("connect", undefined, socket as net.Socket)));
  for (const server of [front, inner]) server.on("clientError", (_err, socket) => socket.destroy());

  async function handleRequest(req: http.IncomingMessage, res: http.ServerResponse, tunnel: TunnelContext | undefined) {
    const started = performance.now();
    const id = nextId();
    const method = req.method ?? "GET";
    const target = resolveTarget(req, tunnel);
    if (!target) {
      if (!tunnel && req.url === "/healthz") return void res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return void sendText(res, 400, "bottle egress: this is a forward proxy; send absolute-form URLs or CONNECT.\n", id);
    }
    const cfg = config;
    const record = auditRecorder(cfg, target, id, method, started);
    // What error texts show: never a known value, not even in a host name or path.
    const shown = shownTarget(cfg, target);

    const match = matchRoute(cfg.routes, { host: target.host, port: target.port, method, path: target.pathname, scheme: target.scheme });
    const headerLeaks = [...cfg.detector.findInHost(target.host), ...cfg.detector.findInText(`${target.path}\n${headerText(req.rawHeaders)}`)];
    const allowedSecrets = match.kind === "allow" ? new Set(match.route.inject.map((i) => i.secret)) : new Set<string>();
    const urlHeaderLeak = headerLeaks.find((s) => !allowedSecrets.has(s));
    if (urlHeaderLeak !== undefined) {
      sendText(res, 403, leakText(shown), id, "block-leak");
      return record("block-leak", 403, match.kind === "allow" ? match.route.id : null, { reason: urlHeaderLeak });
    }
    if (match.kind === "deny") {
      sendText(res, 403, denyText(shown, method, match.reason), id, "deny");
      return record("deny", 403, null, { reason: match.reason });
    }
    const route = match.route;

    const read = await readBody(req, maxBody);
    if (read === "too-large") {
      res.setHeader("connection", "close");
      sendText(res, 413, `bottle egress: request body larger than ${maxBody} bytes.\n`, id, "deny");
      req.resume();
      return record("deny", 413, route.id, { reason: "body-too-large" });
    }
    if (read === "aborted") return record("error", 0, route.id, { reason: "client-aborted" });
    let body = read;
    const override = route.methods.length > 0 ? findMethodOverride(req.rawHeaders, target.path, body) : undefined;
    if (override !== undefined) {
      sendText(res, 403, overrideText(shown, method, override), id, "deny");
      return record("deny", 403, route.id, { reason: "method-override", bytesIn: body.length });
    }
    // What the receiver reads: Content-Encoding undone (bounded), the declared charset.
    const decoded = decodeBody(body, req.headers, maxBody);
    if (typeof decoded === "string") {
      sendText(res, 403, uninspectableText(shown, decoded), id, "block-leak");
      return record("block-leak", 403, route.id, { reason: decoded, bytesIn: body.length });
    }
    const inspection = await inspectRequest({ route, path: target.path, body, decoded, secrets: cfg.secrets, detector: cfg.detector, allowedSecrets, scanLimit });
    if (inspection.verdict === "block-leak") {
      sendText(res, 403, leakText(shown), id, "block-leak");
      return record("block-leak", 403, route.id, { reason: inspection.reason, bytesIn: body.length });
    }
    if (inspection.verdict === "block-pattern") {
      sendText(res, 403, patternText(shown, inspection.reason), id, "block-pattern");
      return record("block-pattern", 403, route.id, { reason: inspection.reason, bytesIn: body.length });
    }
    const redactions = inspection.redactions;
    if (inspection.path !== target.path) {
      target.path = inspection.path;
      target.pathname = pathOnly(inspection.path);
    }
    body = inspection.body;
    const headers = upstreamHeaders(req.rawHeaders, target, route, cfg.secrets);
    if (typeof headers === "string") {
      sendText(res, 502, `bottle egress: route ${route.id} needs secret "${headers}", which is not configured.\n`, id, "error");
      return record("error", 502, route.id, { reason: `missing-secret:${headers}` });
    }
    if (body.length > 0 || req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined) {
      headers.push("content-length", String(body.length));
    }
    const injected = route.inject.map((i) => cfg.secrets[i.secret]).filter((v): v is string => !!v);

    let bytesOut = 0;
    let status = 0;
    let done = false;
    const finish = (decision: AuditDecision, reason?: string) => {
      if (done) return;
      done = true;
      // A forwarded request that had findings replaced is recorded as `redact`, with what and how often.
      const redacted = decision === "allow" && redactions.length > 0;
      record(redacted ? "redact" : decision, status, route.id, { bytesIn: body.length, bytesOut, ...(reason ? { reason } : {}), ...(redactions.length > 0 ? { redactions } : {}) });
    };
    const upReq = upstream.request(target, method, headers);
    upReq.on("response", (upRes) => {
      status = upRes.statusCode ?? 502;
      const outHeaders = responseHeaders(upRes.rawHeaders, injected);
      const declared = Number(upRes.headers["content-length"] ?? Number.NaN);
      if (declared <= SMALL_RESPONSE) {
        // A small sized body leaves together with the headers (one TLS record, one syscall),
        // after any echo of an injected credential in it is replaced.
        const chunks: Buffer[] = [];
        upRes.on("data", (chunk: Buffer) => {
          bytesOut += chunk.length;
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
          bytesOut += chunk.length;
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
      res.on("finish", () => finish("allow"));
    });
    upReq.on("error", (err) => {
      if (!res.headersSent) {
        status = 502;
        sendText(res, 502, `bottle egress: upstream ${shown.host}:${shown.port} failed (${errorCode(err)}).\n`, id, "error");
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

  async function handleUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer, tunnel: TunnelContext | undefined) {
    const started = performance.now();
    const id = nextId();
    const method = req.method ?? "GET";
    const target = resolveTarget(req, tunnel);
    socket.on("error", () => socket.destroy());
    if (!target) return void socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    target.kind = "websocket";
    const cfg = config;
    const record = auditRecorder(cfg, target, id, method, started);
    const shown = shownTarget(cfg, target);
    const match = matchRoute(cfg.routes, { host: target.host, port: target.port, method, path: target.pathname, scheme: target.scheme });
    const allowedSecrets = match.kind === "allow" ? new Set(match.route.inject.map((i) => i.secret)) : new Set<string>();
    const leak = [...cfg.detector.findInHost(target.host), ...cfg.detector.findInText(`${target.path}\n${headerText(req.rawHeaders)}`)].find(
      (s) => !allowedSecrets.has(s),
    );
    const refuse = (status: number, text: string) => {
      const body = Buffer.from(text);
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
          `x-bottle-request-id: ${id}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${text}`,
      );
    };
    if (leak !== undefined) {
      refuse(403, leakText(shown));
      return record("block-leak", 403, match.kind === "allow" ? match.route.id : null, { reason: leak });
    }
    if (match.kind === "deny") {
      refuse(403, denyText(shown, method, match.reason));
      return record("deny", 403, null, { reason: match.reason });
    }
    const route = match.route;
    const headers = upstreamHeaders(req.rawHeaders, target, route, cfg.secrets);
    if (typeof headers === "string") {
      refuse(502, `bottle egress: route ${route.id} needs secret "${headers}", which is not configured.\n`);
      return record("error", 502, route.id, { reason: `missing-secret:${headers}` });
    }
    headers.push("connection", "Upgrade", "upgrade", req.headers["upgrade"] ?? "websocket");
    const injected = route.inject.map((i) => cfg.secrets[i.secret]).filter((v): v is string => !!v);
    const upReq = upstream.request(target, method, headers);
    let bytesIn = 0;
    let bytesOut = 0;
    upReq.on("upgrade", (upRes, upSocket: net.Socket, upHead: Buffer) => {
      const lines = [`HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage ?? ""}`];
      const raw = redactHeaders(upRes.rawHeaders, injected);
      for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
      socket.write(lines.join("\r\n") + "\r\n\r\n");
      upSocket.setTimeout(idleMs, () => upSocket.destroy());
      // Frames are inspected in both directions before they pass (websocket-inspect.ts).
      let blockedBy: string | undefined;
      const relays = websocketRelays(cfg, upRes, allowedSecrets, maxBody, socket, upSocket, (reason) => {
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
      refuse(502, `bottle egress: upstream ${shown.host}:${shown.port} failed (${errorCode(err)}).\n`);
      record("error", 502, route.id, { reason: errorCode(err) });
    });
    upReq.end();
  }

  async function handleConnect(req: http.IncomingMessage, socket: net.Socket, head: Buffer) {
    const started = performance.now();
    socket.on("error", () => socket.destroy());
    const authority = parseAuthority(req.url ?? "");
    if (!authority) return void socket.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    const client = `${socket.remoteAddress}:${socket.remotePort}`;
    const candidates = routesForAuthority(config.routes, authority.host, authority.port);
    const first = candidates[0];
    // A host name carrying a secret is never resolved or tunnelled: intercept, and the request is blocked.
    if (first?.passthrough && config.detector.findInHost(authority.host).length === 0) return passthroughTunnel(socket, head, authority, first, client, started);

    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    const firstBytes = head.length > 0 ? head : await firstData(socket);
    if (!firstBytes) return void socket.destroy();
    if (firstBytes[0] !== 0x16) {
      // Plain HTTP inside the tunnel: same policy, no TLS (routes that take TLS only refuse it).
      // The HTTP server reads a plain socket's handle directly, past unshift(): hand it
      // the bytes already read as a data event.
      tunnels.set(socket, { scheme: "http", ...authority, client });
      inner.emit("connection", socket);
      socket.emit("data", firstBytes);
      socket.resume();
      return;
    }
    socket.unshift(firstBytes);
    let context: tls.SecureContext;
    try {
      context = await leafContext(authority.host);
    } catch (err) {
      log(`cannot mint a certificate for ${config.detector.redactHost(authority.host)}: ${(err as Error).message}`);
      return void socket.destroy();
    }
    const tlsSocket = new tls.TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: ["http/1.1"] });
    tlsSocket.on("error", () => tlsSocket.destroy());
    tunnels.set(tlsSocket, { scheme: "https", ...authority, client });
    inner.emit("connection", tlsSocket);
  }

  function passthroughTunnel(
    socket: net.Socket,
    head: Buffer,
    authority: { host: string; port: number },
    route: EgressRoutePlan,
    client: string,
    started: number,
  ) {
    const id = nextId();
    let bytesIn = head.length;
    let bytesOut = 0;
    let status = 200;
    upstream.tunnel(authority.host, authority.port, (err, upSocket) => {
      if (err || !upSocket) {
        status = 502;
        socket.end("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        audit.write(tunnelRecord("error", errorCode(err)));
        return;
      }
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upSocket.setTimeout(idleMs, () => upSocket.destroy());
      if (head.length > 0) upSocket.write(head);
      upSocket.on("data", (c: Buffer) => (bytesOut += c.length));
      socket.on("data", (c: Buffer) => (bytesIn += c.length));
      upSocket.pipe(socket);
      socket.pipe(upSocket);
      upSocket.on("error", () => socket.destroy());
      socket.on("close", () => upSocket.destroy());
      upSocket.on("close", () => {
        socket.destroy();
        audit.write(tunnelRecord("allow"));
      });
    });
    function tunnelRecord(decision: AuditDecision, reason?: string): AuditRecord {
      return {
        time: new Date().toISOString(),
        id,
        client,
        kind: "tunnel",
        method: "CONNECT",
        host: authority.host,
        port: authority.port,
        path: "",
        decision,
        route: route.id,
        status,
        bytesIn,
        bytesOut,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        ...(reason ? { reason } : {}),
      };
    }
  }

  function leafContext(host: string): Promise<tls.SecureContext> {
    let ctx = leafContexts.get(host);
    if (!ctx) {
      if (leafContexts.size >= MAX_LEAF_CACHE) leafContexts.delete(leafContexts.keys().next().value as string);
      ctx = mintLeafCertificate(ca, host).then((leaf) => tls.createSecureContext({ cert: leaf.certPem, key: leaf.keyPem }));
      ctx.catch(() => leafContexts.delete(host));
      leafContexts.set(host, ctx);
    }
    return ctx;
  }

  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      front.off("error", reject);
      resolve();
    });
  });
  const port = (front.address() as net.AddressInfo).port;

  return {
    port,
    async reload() {
      try {
        config = await loadConfig(options, log);
        log(`reloaded: ${config.routes.length} routes, ${Object.keys(config.secrets).length} secrets`);
      } catch (err) {
        log(`reload failed, keeping the previous config: ${(err as Error).message}`);
        throw err;
      }
    },
    async close() {
      await new Promise<void>((resolve) => {
        front.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      upstream.destroy();
      await audit.close();
    },
  };
}

/**
 * The two inspected directions of an upgraded WebSocket. Outbound messages may carry the
 * route's own injected secrets (as its requests may); inbound ones carry none into the agent.
 */
function websocketRelays(
  cfg: Config,
  upRes: http.IncomingMessage,
  allowedSecrets: Set<string>,
  maxMessageBytes: number,
  client: net.Socket,
  server: net.Socket,
  block: (reason: string) => void,
): { outbound: FrameRelay; inbound: FrameRelay } {
  const deflate = /permessage-deflate/i.test(String(upRes.headers["sec-websocket-extensions"] ?? ""));
  const relay = (to: net.Socket, allowed: Set<string>) =>
    createFrameRelay({
      deflate,
      maxMessageBytes,
      inspect: (payload) => cfg.detector.findInBuffer(payload).find((id) => !allowed.has(id)),
      forward: (frames) => void to.write(frames),
      block,
    });
  return { outbound: relay(server, allowedSecrets), inbound: relay(client, new Set()) };
}

function shownTarget(cfg: Config, target: Target): { host: string; port: number; pathname: string } {
  return { host: cfg.detector.redactHost(target.host), port: target.port, pathname: cfg.detector.redact(target.pathname) };
}

async function readRequired(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    throw new BottleError(`Cannot read the ${what} at ${path}.`, {
      code: "EGRESS_FILE_UNREADABLE",
      hint: "Check the path passed to bottle-egress and that the bundle's config mount is in place.",
      cause,
    });
  }
}

async function loadConfig(options: EgressProxyOptions, log: (line: string) => void): Promise<Config> {
  const routes = parseRoutesFile(await readRequired(options.routesFile, "routes file")).routes;
  let secrets: Record<string, string> = {};
  if (options.secretsFile) {
    secrets = parseSecrets(await readRequired(options.secretsFile, "secrets file"));
    const mode = (await stat(options.secretsFile)).mode & 0o777;
    if (mode & 0o077) log(`warning: ${options.secretsFile} is readable by group/others (mode ${mode.toString(8)}); expected 0600`);
  }
  // Injected values become header values: those must be one line. Other secrets (an ssh
  // key the git gate holds) only feed leak detection and may span lines.
  for (const route of routes) {
    for (const injection of route.inject) {
      const value = secrets[injection.secret];
      if (value !== undefined && /[\r\n]/.test(value)) {
        throw new BottleError(`Invalid egress secrets file: "${injection.secret}" is injected as a header by route ${route.id} and must be one line.`, {
          code: "EGRESS_SECRETS_INVALID",
        });
      }
    }
  }
  return { routes, secrets, detector: createLeakDetector(secrets) };
}

function parseSecrets(text: string): Record<string, string> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // Never echo the parser message: it may quote part of a secret.
    throw new BottleError("Invalid egress secrets file: not JSON.", {
      code: "EGRESS_SECRETS_INVALID",
      hint: 'Expected {"<secret id>": "<value>", ...} as written by the backend.',
    });
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new BottleError("Invalid egress secrets file: expected an object of id → value.", { code: "EGRESS_SECRETS_INVALID" });
  }
  // No prototype: a route naming the secret "constructor" or "__proto__" finds nothing.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [id, value] of Object.entries(data)) {
    if (typeof value !== "string" || value.includes("\0")) {
      throw new BottleError(`Invalid egress secrets file: the value of "${id}" must be a string without NUL bytes.`, {
        code: "EGRESS_SECRETS_INVALID",
      });
    }
    out[id] = value;
  }
  return out;
}

function resolveTarget(req: http.IncomingMessage, tunnel: TunnelContext | undefined): Target | undefined {
  const raw = req.url ?? "/";
  if (tunnel) {
    if (!raw.startsWith("/")) return undefined;
    return { scheme: tunnel.scheme, host: tunnel.host, port: tunnel.port, path: raw, pathname: pathOnly(raw), client: tunnel.client, kind: "request" };
  }
  if (raw.startsWith("/")) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  const scheme = url.protocol === "https:" ? "https" : "http";
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port ? Number(url.port) : scheme === "https" ? 443 : 80;
  const path = url.pathname + url.search;
  const client = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
  return { scheme, host, port, path, pathname: url.pathname, client, kind: "request" };
}

function pathOnly(path: string): string {
  const q = path.indexOf("?");
  return q === -1 ? path : path.slice(0, q);
}

function parseAuthority(value: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/\s[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2] ?? "").toLowerCase().replace(/\.$/, ""), port };
}

function headerText(rawHeaders: string[]): string {
  let out = "";
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) out += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\n`;
  return out;
}

/** Headers for the upstream request, or the id of a missing secret. */
function upstreamHeaders(rawHeaders: string[], target: Target, route: EgressRoutePlan, secrets: Record<string, string>): string[] | string {
  const connectionTokens = new Set<string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === "connection") {
      for (const t of rawHeaders[i + 1]!.split(",")) connectionTokens.add(t.trim().toLowerCase());
    }
  }
  // Injected headers replace the agent's; stripped ones (credentials on the model route) are dropped.
  const injectedNames = new Set([...route.inject.map((i) => i.header), ...(route.stripHeaders ?? [])]);
  const out: string[] = [];
  const defaultPort = target.scheme === "https" ? 443 : 80;
  out.push("host", target.port === defaultPort ? hostForHeader(target.host) : `${hostForHeader(target.host)}:${target.port}`);
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    // The body is already buffered, so `expect: 100-continue` has nothing left to negotiate.
    if (lower === "host" || lower === "content-length" || lower === "expect" || HOP_BY_HOP.has(lower) || connectionTokens.has(lower)) continue;
    if (injectedNames.has(lower)) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  if (!route.passthrough) {
    for (const inj of route.inject) {
      const value = secrets[inj.secret];
      if (value === undefined) return inj.secret;
      out.push(inj.header, inj.prefix + value);
    }
  }
  return out;
}

function hostForHeader(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function redactHeaders(rawHeaders: string[], injected: string[]): string[] {
  if (injected.length === 0) return rawHeaders;
  return rawHeaders.map((v, i) => (i % 2 === 1 && injected.some((s) => v.includes(s)) ? "[redacted by bottle egress]" : v));
}

const REDACTED = Buffer.from("[redacted by bottle egress]");

/** `body` with every injected credential value replaced; the same Buffer when there was none. */
function redactBody(body: Buffer, injected: string[]): Buffer {
  let out = body;
  for (const value of injected) {
    const needle = Buffer.from(value);
    if (needle.length === 0 || out.indexOf(needle) === -1) continue;
    const parts: Buffer[] = [];
    let from = 0;
    for (let at = out.indexOf(needle); at !== -1; at = out.indexOf(needle, from)) {
      parts.push(out.subarray(from, at), REDACTED);
      from = at + needle.length;
    }
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}

function responseHeaders(rawHeaders: string[], injected: string[]): string[] {
  const out: string[] = [];
  const raw = redactHeaders(rawHeaders, injected);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | "too-large" | "aborted"> {
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

function firstData(socket: net.Socket): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const onData = (d: Buffer) => {
      cleanup();
      resolve(d);
    };
    const onEnd = () => {
      cleanup();
      resolve(undefined);
    };
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.pause();
    };
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("close", onEnd);
  });
}

function sendText(res: http.ServerResponse, status: number, text: string, id: string, decision?: string) {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "x-bottle-request-id": id,
    ...(decision ? { "x-bottle-egress-decision": decision } : {}),
  });
  res.end(text);
}

export function denyText(target: { host: string; port: number; pathname: string }, method: string, reason: DenyReason): string {
  const why =
    reason === "host"
      ? `No route of this bottle allows ${target.host}:${target.port}.`
      : reason === "scheme"
        ? `Plain HTTP to ${target.host}:${target.port} is refused: its route takes TLS only (credentials never travel in cleartext). Use https://.`
      : reason === "method"
        ? `The routes for ${target.host} do not allow the method ${method}.`
        : `The routes for ${target.host} do not allow the path ${target.pathname} (paths with dot segments, backslashes, ";", "#" or encoded "/", "\\", "." or "%" are refused on path-limited routes).`;
  return (
    `bottle egress: ${method} ${target.host}:${target.port}${target.pathname} was denied. ${why}\n` +
    `To ask the human for access, call the supervise MCP tool request_egress_route with ` +
    `{"host": "${target.host}", "methods": ["${method}"], "reason": "<why this task needs it>"}. ` +
    `Once approved, the route applies without a restart; then retry.\n`
  );
}

function overrideText(target: { host: string; port: number }, method: string, where: string): string {
  return (
    `bottle egress: ${method} to ${target.host}:${target.port} refused: it asks for another method (${where}), ` +
    `and this route allows only some methods. Send the method you mean on the request line.\n`
  );
}

function uninspectableText(target: { host: string; port: number }, why: BodyRefusal): string {
  const what =
    why === "too-large-to-inspect"
      ? "its decoded body is larger than egress inspects"
      : why === "unknown-content-encoding"
        ? "its Content-Encoding is not one egress can decode (gzip, deflate, br)"
        : "its body does not decode as its Content-Encoding says";
  return `bottle egress: request to ${target.host}:${target.port} blocked: ${what}, so it cannot be checked for secrets.\n`;
}

function leakText(target: { host: string; port: number }): string {
  return (
    `bottle egress: request to ${target.host}:${target.port} blocked: it carries the value of a known secret ` +
    `(raw or encoded). Secrets are injected by egress on their own routes only; do not send them yourself.\n`
  );
}

function patternText(target: { host: string; port: number }, ruleId: string): string {
  return (
    `bottle egress: request to ${target.host}:${target.port} blocked: its URL or body looks like it contains a credential ` +
    `(${ruleId}). Remove it. If this is a false positive, ask the human through the supervise MCP tool ` +
    `request_egress_route with {"host": "${target.host}", "methods": [...], "reason": "..."} explaining why.\n`
  );
}

function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code ?? "ERROR";
}

interface Upstream {
  request(target: Target, method: string, headers: string[]): http.ClientRequest;
  tunnel(host: string, port: number, cb: (err: Error | undefined, socket?: net.Socket) => void): void;
  destroy(): void;
}

async function createUpstream(options: EgressProxyOptions): Promise<Upstream> {
  const hosts = options.hosts ?? {};
  const lookup = ((hostname: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    const fixed = hosts[hostname.toLowerCase()];
    if (fixed !== undefined) {
      const family = net.isIP(fixed) || 4;
      return opts.all ? cb(null, [{ address: fixed, family }] satisfies LookupAddress[]) : cb(null, fixed, family);
    }
    return dnsLookup(hostname, opts as never, cb as never);
  }) as unknown as net.LookupFunction;

  let ca: string[] | undefined;
  if (options.upstreamCaFile) {
    ca = [...tls.rootCertificates, await readRequired(options.upstreamCaFile, "upstream CA bundle")];
    const nodeExtra = process.env["NODE_EXTRA_CA_CERTS"];
    if (nodeExtra) ca.push(await readFile(nodeExtra, "utf8").catch(() => ""));
  }
  // One context for every upstream connection: building one per connection from ~150 roots is slow.
  const secureContext = ca ? tls.createSecureContext({ ca }) : undefined;
  const agentOptions = { keepAlive: true, maxFreeSockets: 256, scheduling: "lifo" as const };
  const httpAgent = new http.Agent(agentOptions);
  let httpsAgent: https.Agent;
  let proxy: URL | undefined;
  if (options.upstreamProxy) {
    proxy = new URL(options.upstreamProxy);
    if (proxy.protocol !== "http:") {
      throw new BottleError(`Unsupported upstream proxy ${proxy.protocol}//…`, {
        code: "EGRESS_UPSTREAM_PROXY",
        hint: "Use an http:// proxy URL (https is tunnelled through it with CONNECT).",
      });
    }
    httpsAgent = new TunnellingAgent(proxy, { ...agentOptions, ...(secureContext ? { secureContext } : {}) });
  } else {
    httpsAgent = new https.Agent({ ...agentOptions, ...(secureContext ? { secureContext } : {}) });
  }

  return {
    request(target, method, headers) {
      if (target.scheme === "https") {
        return https.request({
          host: target.host,
          port: target.port,
          method,
          path: target.path,
          headers,
          agent: httpsAgent,
          lookup,
          servername: net.isIP(target.host) ? "" : target.host,
          ALPNProtocols: ["http/1.1"],
        } as https.RequestOptions);
      }
      if (proxy) {
        return http.request({
          host: proxy.hostname,
          port: Number(proxy.port || 80),
          method,
          path: `http://${hostForHeader(target.host)}:${target.port}${target.path}`,
          headers: proxyAuth(proxy) ? [...headers, "proxy-authorization", proxyAuth(proxy)!] : headers,
          agent: httpAgent,
        });
      }
      return http.request({ host: target.host, port: target.port, method, path: target.path, headers, agent: httpAgent, lookup });
    },
    tunnel(host, port, cb) {
      if (proxy) return connectThroughProxy(proxy, host, port, cb);
      const s = net.connect({ host, port, lookup });
      s.once("connect", () => cb(undefined, s));
      s.once("error", (e) => cb(e));
    },
    destroy() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

function proxyAuth(proxy: URL): string | undefined {
  if (!proxy.username) return undefined;
  const creds = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return `Basic ${Buffer.from(creds).toString("base64")}`;
}

function connectThroughProxy(proxy: URL, host: string, port: number, cb: (err: Error | undefined, socket?: net.Socket) => void) {
  const authority = `${hostForHeader(host)}:${port}`;
  const auth = proxyAuth(proxy);
  const req = http.request({
    host: proxy.hostname,
    port: Number(proxy.port || 80),
    method: "CONNECT",
    path: authority,
    headers: { host: authority, ...(auth ? { "proxy-authorization": auth } : {}) },
    agent: false,
  });
  req.once("connect", (res, socket) => {
    if (res.statusCode !== 200) {
      socket.destroy();
      return cb(Object.assign(new Error(`upstream proxy answered ${res.statusCode} to CONNECT`), { code: "EPROXY" }));
    }
    cb(undefined, socket);
  });
  req.once("error", (e) => cb(e));
  req.end();
}

/** https.Agent whose connections are TLS over a CONNECT tunnel through an HTTP proxy. */
class TunnellingAgent extends https.Agent {
  constructor(
    private readonly proxy: URL,
    options: https.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(options: http.RequestOptions, cb?: (err: Error | null, stream: Duplex) => void): undefined {
    const opts = options as tls.ConnectionOptions & { host?: string; port?: number };
    const host = opts.host ?? "localhost";
    connectThroughProxy(this.proxy, host, Number(opts.port ?? 443), (err, raw) => {
      if (err || !raw) return cb?.(err ?? new Error("proxy tunnel failed"), undefined as never);
      const servername = opts.servername || (net.isIP(host) ? undefined : host);
      const socket = tls.connect({ ...opts, socket: raw, ...(servername ? { servername } : {}) });
      cb?.(null, socket);
    });
    return undefined;
  }
}
