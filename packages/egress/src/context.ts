import type net from "node:net";
import type { AuditTrail } from "./audit.js";
import type { Config } from "./config.js";
import type { DecisionLimits } from "./decide.js";
import type { TunnelContext } from "./target.js";
import type { Upstream } from "./upstream.js";

/** What the request, upgrade and CONNECT handlers share with the proxy that runs them. */
export interface ProxyContext {
  /** The config in force now (reload swaps it; a request keeps the one it started with). */
  config(): Config;
  limits: DecisionLimits;
  upstream: Upstream;
  audit: AuditTrail;
  /** A client or upstream socket with no traffic for this long is closed. */
  idleMs: number;
  /** A new request id (`x-bottle-request-id`, audit `id`). */
  nextId(): string;
  log(line: string): void;
  /** Serve HTTP on a socket from inside a CONNECT tunnel (plain or decrypted TLS). */
  serveTunnel(socket: net.Socket, tunnel: TunnelContext): void;
}
