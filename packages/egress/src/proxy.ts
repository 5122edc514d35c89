import { randomBytes } from "node:crypto";
import http from "node:http";
import type net from "node:net";
import { loadBottleCa } from "@bottle/ca";
import { openAuditTrail, nullAuditTrail, type AuditTrail } from "./audit.js";
import { loadConfig, readRequired } from "./config.js";
import { handleConnect } from "./connect.js";
import type { ProxyContext } from "./context.js";
import { handleRequest, sendText } from "./forward.js";
import { createLeafContexts } from "./leaf-certs.js";
import { DEFAULT_SCAN_LIMIT } from "./scan.js";
import type { TunnelContext } from "./target.js";
import { createUpstream } from "./upstream.js";
import { handleUpgrade } from "./websocket.js";

export { denyText } from "./messages.js";

// The proxy's layers, each its own module: decide.ts (the policy, no sockets), connect.ts
// (CONNECT, TLS interception with leaf-certs.ts), forward.ts (HTTP requests and responses),
// websocket.ts (upgrades and frames), upstream.ts (connections out), audit-record.ts (audit
// lines). This file wires them to two HTTP servers and owns the lifecycle.

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

/** Starts the egress forward proxy (plain HTTP, CONNECT, TLS interception). */
export async function startEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  const log = options.log ?? ((line: string) => process.stderr.write(`egress: ${line}\n`));
  const ca = await loadBottleCa({
    certPem: await readRequired(options.caCertFile, "CA certificate"),
    keyPem: await readRequired(options.caKeyFile, "CA key"),
  });
  let config = await loadConfig(options, log);
  const audit: AuditTrail = options.auditFile ? openAuditTrail(options.auditFile, options.auditMaxBytes) : nullAuditTrail;
  const upstream = await createUpstream(options);
  const leafContexts = createLeafContexts(ca);
  // Requests inside CONNECT tunnels reach `inner`; the tunnel they came through is kept here.
  const tunnels = new WeakMap<net.Socket, TunnelContext>();
  const idPrefix = randomBytes(3).toString("hex");
  let counter = 0;

  const front = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 });
  const inner = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 });
  const sockets = new Set<net.Socket>();
  const ctx: ProxyContext = {
    config: () => config,
    limits: { maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY, scanLimitBytes: options.scanLimitBytes ?? DEFAULT_SCAN_LIMIT },
    upstream,
    audit,
    idleMs: options.idleTimeoutMs ?? DEFAULT_IDLE_MS,
    nextId: () => `${idPrefix}-${(++counter).toString(36)}`,
    log,
    serveTunnel(socket, tunnel) {
      tunnels.set(socket, tunnel);
      inner.emit("connection", socket);
    },
  };

  front.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.setNoDelay(true);
    // Every client socket (requests, CONNECT tunnels, upgraded streams) ends when idle.
    s.setTimeout(ctx.idleMs, () => s.destroy());
    s.on("close", () => sockets.delete(s));
  });
  // A bug in one request must not take the proxy down: answer 500 (or drop the stream) and log.
  const failed = (what: string, res?: http.ServerResponse, socket?: net.Socket) => (err: unknown) => {
    log(`internal error in ${what}: ${(err as Error)?.stack ?? String(err)}`);
    if (res && !res.headersSent) sendText(res, 500, "bottle egress: internal error.\n", "internal", "error");
    else if (res) res.destroy();
    socket?.destroy();
  };
  front.on("request", (req, res) => void handleRequest(ctx, req, res, undefined).catch(failed("request", res)));
  inner.on("request", (req, res) => void handleRequest(ctx, req, res, tunnels.get(req.socket)).catch(failed("request", res)));
  front.on("upgrade", (req, socket, head) => void handleUpgrade(ctx, req, socket as net.Socket, head, undefined).catch(failed("upgrade", undefined, socket as net.Socket)));
  inner.on("upgrade", (req, socket, head) =>
    void handleUpgrade(ctx, req, socket as net.Socket, head, tunnels.get(socket as net.Socket)).catch(failed("upgrade", undefined, socket as net.Socket)),
  );
  front.on("connect", (req, socket, head) =>
    void handleConnect(ctx, leafContexts, req, socket as net.Socket, head).catch(failed("connect", undefined, socket as net.Socket)),
  );
  for (const server of [front, inner]) server.on("clientError", (_err, socket) => socket.destroy());

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
