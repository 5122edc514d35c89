import type http from "node:http";
import type { AuditRecord } from "./audit.js";

export interface TunnelContext {
  scheme: "http" | "https";
  host: string;
  port: number;
  client: string;
}

export interface Target {
  scheme: "http" | "https";
  host: string;
  port: number;
  /** Path with query, as sent upstream. */
  path: string;
  pathname: string;
  client: string;
  kind: AuditRecord["kind"];
}

export function resolveTarget(req: http.IncomingMessage, tunnel: TunnelContext | undefined): Target | undefined {
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

export function pathOnly(path: string): string {
  const q = path.indexOf("?");
  return q === -1 ? path : path.slice(0, q);
}

export function parseAuthority(value: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/\s[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2] ?? "").toLowerCase().replace(/\.$/, ""), port };
}

export function headerText(rawHeaders: readonly string[]): string {
  let out = "";
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) out += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\n`;
  return out;
}
