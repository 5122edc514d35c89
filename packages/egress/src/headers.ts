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
