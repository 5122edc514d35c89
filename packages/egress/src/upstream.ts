import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import { BottleError } from "@bottle/errors";
import { readRequired } from "./config.js";
import { hostForHeader } from "./headers.js";
import type { Target } from "./target.js";

export function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code ?? "ERROR";
}

/** How egress reaches upstreams (the proxy's options). */
export interface UpstreamOptions {
  upstreamProxy?: string;
  upstreamCaFile?: string;
  /** TEST ONLY: name → address instead of DNS. */
  hosts?: Record<string, string>;
}

export interface Upstream {
  request(target: Target, method: string, headers: string[]): http.ClientRequest;
  tunnel(host: string, port: number, cb: (err: Error | undefined, socket?: net.Socket) => void): void;
  destroy(): void;
}

export async function createUpstream(options: UpstreamOptions): Promise<Upstream> {
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

export function proxyAuth(proxy: URL): string | undefined {
  if (!proxy.username) return undefined;
  const creds = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return `Basic ${Buffer.from(creds).toString("base64")}`;
}

export function connectThroughProxy(proxy: URL, host: string, port: number, cb: (err: Error | undefined, socket?: net.Socket) => void) {
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
export class TunnellingAgent extends https.Agent {
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
