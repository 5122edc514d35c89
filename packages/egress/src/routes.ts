import { BottleError } from "@bottle/errors";
import { HOST_PATTERN_DESCRIPTION, isHostPattern } from "@bottle/manifest";
import type { BottlePlan, EgressRoutePlan, HeaderInjection } from "@bottle/plan";

export type { EgressRoutePlan, HeaderInjection };

/** The part of a BottlePlan the routes file is rendered from (a whole BottlePlan fits). */
export type RoutesSource = Pick<BottlePlan, "routes">;

export interface RoutesFile {
  version: 1;
  routes: EgressRoutePlan[];
}

/**
 * Renders `routes.json` (docs/bundle-contract.md): the manifest's routes, then routes the
 * human approved live. Deterministic: same input → same bytes.
 */
export function renderRoutesFile(plan: RoutesSource, extraRoutes: readonly EgressRoutePlan[] = []): string {
  const routes = [...plan.routes, ...extraRoutes].map(normalizeRoute);
  const file: RoutesFile = { version: 1, routes };
  const parsed = parseRoutesFile(JSON.stringify(file));
  return JSON.stringify(parsed, null, 2) + "\n";
}

/** Parses and validates a routes file; throws a BottleError naming the first problem. */
export function parseRoutesFile(text: string): RoutesFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw invalid(`not JSON (${(cause as Error).message})`);
  }
  if (!isObject(data)) throw invalid("expected an object");
  if (data["version"] !== 1) throw invalid(`unsupported version ${JSON.stringify(data["version"])} (expected 1)`);
  if (!Array.isArray(data["routes"])) throw invalid("`routes` must be an array");
  const ids = new Set<string>();
  const routes = data["routes"].map((raw: unknown, i: number) => {
    const route = parseRoute(raw, `routes[${i}]`);
    if (ids.has(route.id)) throw invalid(`routes[${i}].id "${route.id}" is used twice`);
    ids.add(route.id);
    return route;
  });
  return { version: 1, routes };
}

function parseRoute(raw: unknown, at: string): EgressRoutePlan {
  if (!isObject(raw)) throw invalid(`${at} must be an object`);
  const id = raw["id"];
  if (typeof id !== "string" || id.length === 0) throw invalid(`${at}.id must be a non-empty string`);
  const host = raw["host"];
  if (typeof host !== "string" || !isHostPattern(host)) {
    throw invalid(`${at}.host must be ${HOST_PATTERN_DESCRIPTION} (got ${JSON.stringify(host)})`);
  }
  const ports = raw["ports"];
  if (!Array.isArray(ports) || !ports.every((p) => Number.isInteger(p) && p > 0 && p < 65536)) {
    throw invalid(`${at}.ports must be an array of port numbers`);
  }
  const methods = stringArray(raw["methods"], `${at}.methods`);
  if (!methods.every((m) => /^[A-Z]+$/.test(m))) throw invalid(`${at}.methods must be upper-case HTTP methods`);
  const paths = stringArray(raw["paths"], `${at}.paths`);
  if (!paths.every((p) => p.startsWith("/"))) throw invalid(`${at}.paths must start with "/"`);
  const injectRaw = raw["inject"];
  if (!Array.isArray(injectRaw)) throw invalid(`${at}.inject must be an array`);
  const inject = injectRaw.map((item: unknown, j: number): HeaderInjection => {
    const where = `${at}.inject[${j}]`;
    if (!isObject(item)) throw invalid(`${where} must be an object`);
    const { header, secret, prefix } = item;
    if (typeof header !== "string" || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(header)) {
      throw invalid(`${where}.header must be a lower-case header name`);
    }
    if (typeof secret !== "string" || secret.length === 0) throw invalid(`${where}.secret must be a secret id`);
    if (typeof prefix !== "string" || /[\r\n]/.test(prefix)) throw invalid(`${where}.prefix must be a one-line string`);
    return { header, secret, prefix };
  });
  const passthrough = raw["passthrough"];
  const scan = raw["scan"];
  if (typeof passthrough !== "boolean") throw invalid(`${at}.passthrough must be true or false`);
  if (typeof scan !== "boolean") throw invalid(`${at}.scan must be true or false`);
  if (passthrough && inject.length > 0) throw invalid(`${at}: a passthrough route cannot inject headers`);
  // Absent in routes files written before redaction existed: those blocked.
  const onFinding = raw["onFinding"] ?? "block";
  if (onFinding !== "block" && onFinding !== "redact") throw invalid(`${at}.onFinding must be "block" or "redact"`);
  const scheme = raw["scheme"] ?? "https";
  if (scheme !== "https" && scheme !== "http") throw invalid(`${at}.scheme must be "https" or "http"`);
  // Absent in routes files written before header stripping existed: nothing stripped.
  const stripHeaders = raw["stripHeaders"] === undefined ? [] : stringArray(raw["stripHeaders"], `${at}.stripHeaders`);
  if (!stripHeaders.every((h) => /^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(h))) throw invalid(`${at}.stripHeaders must be lower-case header names`);
  return normalizeRoute({
    id,
    host,
    ports: ports as number[],
    methods,
    paths,
    inject,
    ...(stripHeaders.length > 0 ? { stripHeaders } : {}),
    passthrough,
    scan,
    onFinding,
    ...(scheme === "http" ? { scheme } : {}),
  });
}

function normalizeRoute(r: EgressRoutePlan): EgressRoutePlan {
  return {
    id: r.id,
    host: r.host.toLowerCase(),
    ports: [...r.ports],
    methods: [...r.methods],
    paths: [...r.paths],
    inject: r.inject.map((i) => ({ header: i.header, secret: i.secret, prefix: i.prefix })),
    ...(r.stripHeaders && r.stripHeaders.length > 0 ? { stripHeaders: [...r.stripHeaders] } : {}),
    passthrough: r.passthrough,
    scan: r.scan,
    onFinding: r.onFinding,
    ...(r.scheme === "http" ? { scheme: "http" as const } : {}),
  };
}

function stringArray(value: unknown, at: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw invalid(`${at} must be an array of strings`);
  return value as string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(what: string): BottleError {
  return new BottleError(`Invalid egress routes file: ${what}.`, {
    code: "EGRESS_ROUTES_INVALID",
    hint: "Render routes.json with @bottle/egress renderRoutesFile, or fix it by hand following docs/bundle-contract.md.",
  });
}

/** `*.example.com` matches one or more labels below example.com (not example.com itself). */
export function hostMatches(pattern: string, host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  if (pattern.startsWith("*.")) {
    const suffix = pattern.slice(1);
    return h.length > suffix.length && h.endsWith(suffix);
  }
  return pattern === h;
}

export function pathMatches(prefixes: readonly string[], path: string): boolean {
  if (prefixes.length === 0) return true;
  if (isAmbiguousPath(path)) return false;
  return prefixes.some((p) => path.startsWith(p));
}

/**
 * A path an upstream may read as another path than egress does: dot segments (raw or
 * encoded), backslashes, `;` parameters, encoded slashes/backslashes/dots/percent signs,
 * fragments, NUL and control characters. Refused on path-limited routes rather than
 * normalised, because servers disagree on how to normalise them.
 */
export function isAmbiguousPath(path: string): boolean {
  if (/[\\;#\x00-\x20\x7f]/.test(path)) return true;
  if (/%(2e|2f|5c|25|3b|23|00)/i.test(path)) return true;
  return /(^|\/)\.{1,2}(\/|$)/.test(path);
}

export type DenyReason = "host" | "method" | "path" | "scheme";

export type RouteMatch = { kind: "allow"; route: EgressRoutePlan } | { kind: "deny"; reason: DenyReason; route?: EgressRoutePlan };

/** Ports that speak TLS: a plain-HTTP request to one is refused whatever the route says. */
export const TLS_PORTS: readonly number[] = [443];

/**
 * First route (in file order) whose host, port, scheme, method and path all match; else
 * why not. Plain HTTP (`scheme: "http"`) matches only routes that say `scheme: "http"`,
 * and never on a TLS port: credentials are injected in cleartext only where the human
 * asked for it.
 */
export function matchRoute(
  routes: readonly EgressRoutePlan[],
  target: { host: string; port: number; method?: string; path?: string; scheme?: "http" | "https" },
): RouteMatch {
  let reason: DenyReason = "host";
  let near: EgressRoutePlan | undefined;
  const rank: Record<DenyReason, number> = { host: 0, scheme: 1, method: 2, path: 3 };
  const note = (why: DenyReason, route: EgressRoutePlan) => {
    if (rank[why] > rank[reason]) {
      reason = why;
      near = route;
    }
  };
  const plain = target.scheme === "http";
  for (const route of routes) {
    if (!hostMatches(route.host, target.host)) continue;
    if (route.ports.length > 0 && !route.ports.includes(target.port)) continue;
    if (plain && (route.scheme !== "http" || TLS_PORTS.includes(target.port))) {
      note("scheme", route);
      continue;
    }
    if (target.method !== undefined && route.methods.length > 0 && !route.methods.includes(target.method)) {
      note("method", route);
      continue;
    }
    if (target.path !== undefined && !pathMatches(route.paths, target.path)) {
      note("path", route);
      continue;
    }
    return { kind: "allow", route };
  }
  return near ? { kind: "deny", reason, route: near } : { kind: "deny", reason };
}

/** Routes that could apply to a tunnel to host:port (method and path not yet known). */
export function routesForAuthority(routes: readonly EgressRoutePlan[], host: string, port: number): EgressRoutePlan[] {
  return routes.filter((r) => hostMatches(r.host, host) && (r.ports.length === 0 || r.ports.includes(port)));
}
