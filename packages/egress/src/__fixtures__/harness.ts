import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { once } from "node:events";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import { createBottleCa, loadBottleCa, mintLeafCertificate, writeBottleCa } from "@bottle/ca";
import { startEgressProxy, type EgressProxy, type EgressProxyOptions } from "../proxy.js";
import type { EgressRoutePlan } from "../routes.js";

export const TEST_HOSTS = ["api.test", "other.test", "noscan.test", "new.test", "unknown.test", "pass.test", "api.gh.test", "nowhere.test", "localhost"];

export interface Seen {
  method: string;
  host: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Upstream {
  port: number;
  caPem: string;
  seen: Seen[];
  /** Handlers by path; default answers 200 "ok <servername>". */
  routes: Map<string, (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void>;
  server: https.Server;
  close(): Promise<void>;
}

/** An HTTPS server with certificates for every TEST_HOSTS name, minted by its own CA. */
export async function startUpstream(): Promise<Upstream> {
  const caPair = await createBottleCa({ commonName: "upstream test CA" });
  const ca = await loadBottleCa(caPair);
  const contexts = new Map<string, tls.SecureContext>();
  for (const name of TEST_HOSTS) {
    const leaf = await mintLeafCertificate(ca, name);
    contexts.set(name, tls.createSecureContext({ cert: leaf.certPem, key: leaf.keyPem }));
  }
  const ipLeaf = await mintLeafCertificate(ca, "127.0.0.1");
  const seen: Seen[] = [];
  const routes: Upstream["routes"] = new Map();
  const server = https.createServer(
    {
      cert: ipLeaf.certPem,
      key: ipLeaf.keyPem,
      SNICallback: (name, cb) => cb(null, contexts.get(name)),
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const host = (req.socket as tls.TLSSocket).servername || "127.0.0.1";
        seen.push({ method: req.method ?? "", host, url: req.url ?? "", headers: req.headers, body });
        const handler = routes.get((req.url ?? "/").split("?")[0]!);
        if (handler) return handler(req, res, body);
        res.writeHead(200, { "content-type": "text/plain" }).end(`ok ${host}`);
      });
    },
  );
  const sockets = new Set<net.Socket>();
  server.on("secureConnection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as net.AddressInfo).port,
    caPem: caPair.certPem,
    seen,
    routes,
    server,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

export interface Workspace {
  dir: string;
  caCertFile: string;
  caKeyFile: string;
  caPem: string;
  routesFile: string;
  secretsFile: string;
  upstreamCaFile: string;
  auditFile: string;
  writeRoutes(routes: EgressRoutePlan[]): Promise<void>;
  /** Audit lines, polling (the proxy batches writes) until `until` holds or 5 s pass. */
  readAudit(until?: (lines: Array<Record<string, unknown>>) => boolean): Promise<Array<Record<string, unknown>>>;
  cleanup(): Promise<void>;
}

export async function makeWorkspace(upstreamCaPem: string, secrets: Record<string, string>, routes: EgressRoutePlan[]): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), "bottle-egress-"));
  const ca = await createBottleCa({ commonName: "bottle test CA" });
  const { certPath, keyPath } = await writeBottleCa(join(dir, "ca"), ca);
  const routesFile = join(dir, "routes.json");
  const secretsFile = join(dir, "secrets.json");
  const upstreamCaFile = join(dir, "upstream-ca.pem");
  const auditFile = join(dir, "audit", "egress.jsonl");
  await writeFile(secretsFile, JSON.stringify(secrets), { mode: 0o600 });
  await chmod(secretsFile, 0o600);
  await writeFile(upstreamCaFile, upstreamCaPem);
  const ws: Workspace = {
    dir,
    caCertFile: certPath,
    caKeyFile: keyPath,
    caPem: ca.certPem,
    routesFile,
    secretsFile,
    upstreamCaFile,
    auditFile,
    async writeRoutes(r) {
      await writeFile(routesFile + ".tmp", JSON.stringify({ version: 1, routes: r }));
      const { rename } = await import("node:fs/promises");
      await rename(routesFile + ".tmp", routesFile);
    },
    async readAudit(until = () => true) {
      for (let i = 0; ; i++) {
        const text = await readFile(auditFile, "utf8").catch(() => "");
        const lines = text
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        if (until(lines) || i >= 200) return lines;
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  await ws.writeRoutes(routes);
  return ws;
}

export function route(partial: Partial<EgressRoutePlan> & { id: string; host: string }): EgressRoutePlan {
  return { ports: [], methods: [], paths: [], inject: [], passthrough: false, scan: true, onFinding: "block", ...partial };
}

export interface ClientResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export interface ProxiedRequest {
  proxyPort: number;
  /** CA the client trusts for the intercepted TLS (the bottle CA). */
  ca: string;
  host: string;
  port: number;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** Opens a CONNECT tunnel through the proxy, returns the raw socket after `200`. */
export function connectTunnel(proxyPort: number, host: string, port: number): Promise<{ status: number; socket: net.Socket; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: proxyPort, method: "CONNECT", path: `${host}:${port}`, agent: false });
    req.once("connect", (res, socket) => resolve({ status: res.statusCode ?? 0, socket, body: "" }));
    req.once("response", (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, socket: res.socket, body }));
    });
    req.once("error", reject);
    req.end();
  });
}

/** HTTPS request through the proxy (CONNECT + TLS trusting only `ca`). */
export async function proxiedHttps(opts: ProxiedRequest): Promise<ClientResponse> {
  const tunnel = await connectTunnel(opts.proxyPort, opts.host, opts.port);
  if (tunnel.status !== 200) throw new Error(`CONNECT answered ${tunnel.status}`);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: opts.host,
      port: opts.port,
      method: opts.method ?? "GET",
      path: opts.path ?? "/",
      headers: opts.headers ?? {},
      createConnection: () => tls.connect({ socket: tunnel.socket, host: opts.host, ca: [opts.ca], ...(isIP(opts.host) ? {} : { servername: opts.host }) }),
    });
    req.once("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        tunnel.socket.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.once("error", reject);
    req.end(opts.body);
  });
}

/** Plain-HTTP forward-proxy request (absolute-form URL). */
export function proxiedHttp(proxyPort: number, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: proxyPort, method: init.method ?? "GET", path: url, headers: init.headers ?? {}, agent: false });
    req.once("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.once("error", reject);
    req.end(init.body);
  });
}

/** An https.Agent whose connections go through the proxy with CONNECT (for ws and keep-alive clients). */
export class ConnectAgent extends https.Agent {
  constructor(
    private readonly proxyPort: number,
    options: https.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(options: http.RequestOptions, cb?: (err: Error | null, stream: Duplex) => void): undefined {
    const opts = options as tls.ConnectionOptions & { host: string; port: number };
    connectTunnel(this.proxyPort, opts.host, Number(opts.port)).then(
      (t) => {
        if (t.status !== 200) return cb?.(new Error(`CONNECT answered ${t.status}`), undefined as never);
        cb?.(null, tls.connect({ ...opts, socket: t.socket, ...(isIP(opts.host) ? {} : { servername: opts.host }) }));
      },
      (err: Error) => cb?.(err, undefined as never),
    );
    return undefined;
  }
}

/** A promise with its resolver, for handshakes between the test and an upstream. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The proxy of a test workspace: its files, the test hosts on loopback, quiet logs; `extra` overrides. */
export function startWorkspaceProxy(ws: Workspace, extra: Partial<EgressProxyOptions> = {}): Promise<EgressProxy> {
  return startEgressProxy({
    routesFile: ws.routesFile,
    secretsFile: ws.secretsFile,
    caCertFile: ws.caCertFile,
    caKeyFile: ws.caKeyFile,
    upstreamCaFile: ws.upstreamCaFile,
    auditFile: ws.auditFile,
    hosts: Object.fromEntries(TEST_HOSTS.map((h) => [h, "127.0.0.1"])),
    log: () => {},
    ...extra,
  });
}
