import type { EgressRoutePlan } from "./routes.js";
import type { Target } from "./target.js";

export const HOP_BY_HOP = new Set([
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

/** Headers for the upstream request: hop-by-hop and stripped ones dropped, the route's credentials injected. */
export function upstreamHeaders(rawHeaders: string[], target: Target, route: EgressRoutePlan, secrets: Record<string, string>): string[] {
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
      // decide.ts refuses a request whose route lacks a secret before it gets here.
      if (value === undefined) throw new Error(`route ${route.id}: secret ${inj.secret} is not configured`);
      out.push(inj.header, inj.prefix + value);
    }
  }
  return out;
}

export function hostForHeader(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export function redactHeaders(rawHeaders: string[], injected: string[]): string[] {
  if (injected.length === 0) return rawHeaders;
  return rawHeaders.map((v, i) => (i % 2 === 1 && injected.some((s) => v.includes(s)) ? "[redacted by bottle egress]" : v));
}

export const REDACTED = Buffer.from("[redacted by bottle egress]");

/** `body` with every injected credential value replaced; the same Buffer when there was none. */
export function redactBody(body: Buffer, injected: string[]): Buffer {
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

export function responseHeaders(rawHeaders: string[], injected: string[]): string[] {
  const out: string[] = [];
  const raw = redactHeaders(rawHeaders, injected);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}
