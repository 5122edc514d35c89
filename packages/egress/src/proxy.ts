import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import tls from "node:tls";
import { loadBottleCa, mintLeafCertificate } from "@bottle/ca";
import { openAuditTrail, nullAuditTrail, type AuditDecision, type AuditRecord, type AuditTrail } from "./audit.js";
import { loadConfig, readRequired, type Config } from "./config.js";
import { HOP_BY_HOP, redactBody, redactHeaders, responseHeaders, upstreamHeaders } from "./headers.js";
import { decideBody, decideHead, decideUpgrade, shown, type DecisionLimits, type Refusal } from "./decide.js";
import { routesForAuthority, type EgressRoutePlan } from "./routes.js";
import { DEFAULT_SCAN_LIMIT } from "./scan.js";
import { parseAuthority, pathOnly, resolveTarget, type Target, type TunnelContext } from "./target.js";
import { createUpstream, errorCode } from "./upstream.js";
import { createFrameRelay, type FrameRelay } from "./websocket-inspect.js";

export { denyText } from "./messages.js";

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
  const limits: DecisionLimits = { maxBodyBytes: maxBody, scanLimitBytes: scanLimit };
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
    const head = { scheme: target.scheme, host: target.host, port: target.port, method, path: target.path, pathname: target.pathname, rawHeaders: req.rawHeaders };
    const first = decideHead(cfg, head);
    if (first.action === "refuse") return refuse(first);
    const route = first.route;

    const read = await readBody(req, maxBody);
    if (read === "aborted") return record("error", 0, route.id, { reason: "client-aborted" });
    const decision = await decideBody(cfg, head, first, { headers: req.headers, body: read }, limits);
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
      const { host, port } = shown(cfg, target);
      refuse(502, `bottle egress: upstream ${host}:${port} failed (${errorCode(err)}).\n`);
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

