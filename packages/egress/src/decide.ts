/**
 * The policy decision, with no sockets: the facts of a request in, what egress does with it
 * out (forward, possibly redacted, or refuse with a status, an audit decision, a reason and
 * the text the agent reads). The proxy asks in two steps because it reads a body only once
 * its head is allowed: `decideHead` (route, scheme, path, method, leaks in host, URL and
 * headers), then `decideBody` (size, method override, content encoding, leaks and patterns in
 * URL and body, redaction, injectable secrets). `decideRequest` is both in one go;
 * `decideUpgrade` is the head of a WebSocket upgrade (frames are inspected as they pass);
 * `decideTunnel` picks a CONNECT that is tunnelled blind instead of intercepted.
 */
import type { AuditDecision } from "./audit.js";
import type { Config } from "./config.js";
import { inspectRequest, type BodyScanner } from "./inspect.js";
import { denyText, leakText, overrideText, patternText, uninspectableText } from "./messages.js";
import { findMethodOverride } from "./method-override.js";
import { decodeBody } from "./normalize.js";
import type { RedactionCount } from "./redact.js";
import { matchRoute, routesForAuthority, type EgressRoutePlan } from "./routes.js";
import { headerText } from "./target.js";

/** What egress knows of a request before reading its body. */
export interface RequestHead {
  scheme: "http" | "https";
  /** Lower-case host name or address, from the CONNECT authority or the absolute URL (never `Host`). */
  host: string;
  port: number;
  method: string;
  /** Path with query, as the agent sent it. */
  path: string;
  /** `path` without the query. */
  pathname: string;
  /** Header names and values as received (Node's `rawHeaders`). */
  rawHeaders: readonly string[];
}

export interface RequestBody {
  /** Content headers the receiver decodes the body with. */
  headers: { "content-encoding"?: string | string[] | undefined; "content-type"?: string | undefined };
  /** The whole body, or `too-large` when it passed the cap while being read. */
  body: Buffer | "too-large";
}

export interface DecisionLimits {
  /** Request bodies (raw or decoded) larger than this are refused. */
  maxBodyBytes: number;
  /** Bytes of a body given to the pattern scanner. */
  scanLimitBytes: number;
  /** Default: the process-wide chunked scanner (inspect.ts). */
  scanBody?: BodyScanner;
}

/** Egress answers the agent itself and nothing goes upstream. */
export interface Refusal {
  action: "refuse";
  decision: Exclude<AuditDecision, "allow" | "redact">;
  status: number;
  /** Id of the matched route, if any. */
  route: string | null;
  /** Audit reason: `host`/`scheme`/`method`/`path`, a secret id, a rule id, `method-override`, … */
  reason: string;
  /** What the agent reads (never a secret value). */
  text: string;
  /** Body bytes received, for the audit line (refusals decided after the body was read). */
  bytesIn?: number;
  /** The client connection must close after the answer (the rest of the body is not read). */
  closeConnection?: boolean;
  /** Path with query after redaction, when a refusal came after the URL was redacted (the audit records it). */
  path?: string;
}

/** The head is allowed: read the body (or upgrade), then decide on it. */
export interface HeadAllowed {
  action: "continue";
  route: EgressRoutePlan;
  /** Secrets this route injects: on a blocking route the agent may send them. */
  allowedSecrets: ReadonlySet<string>;
}

/** Send upstream: `path` and `body` are what goes (redacted where the route redacts). */
export interface Forward {
  action: "forward";
  route: EgressRoutePlan;
  path: string;
  body: Buffer;
  /** Findings replaced by markers (empty: forwarded as sent). */
  redactions: RedactionCount[];
}

export type HeadDecision = HeadAllowed | Refusal;
export type Decision = Forward | Refusal;

/** Route match and the leak check of host, URL and headers. */
export function decideHead(cfg: Config, head: RequestHead): HeadDecision {
  const { host, port, method, pathname, scheme } = head;
  const match = matchRoute(cfg.routes, { host, port, method, path: pathname, scheme });
  const headerLeaks = [...cfg.detector.findInHost(host), ...cfg.detector.findInText(`${head.path}\n${headerText(head.rawHeaders)}`)];
  const allowedSecrets = match.kind === "allow" ? new Set(match.route.inject.map((i) => i.secret)) : new Set<string>();
  const leak = headerLeaks.find((s) => !allowedSecrets.has(s));
  if (leak !== undefined) {
    return refuse("block-leak", 403, match.kind === "allow" ? match.route.id : null, leak, leakText(shown(cfg, head)));
  }
  if (match.kind === "deny") return refuse("deny", 403, null, match.reason, denyText(shown(cfg, head), method, match.reason));
  return { action: "continue", route: match.route, allowedSecrets };
}

/** The rest, once the head is allowed and the body read. */
export async function decideBody(cfg: Config, head: RequestHead, allowed: HeadAllowed, request: RequestBody, limits: DecisionLimits): Promise<Decision> {
  const { route, allowedSecrets } = allowed;
  const body = request.body;
  if (body === "too-large") {
    const text = `bottle egress: request body larger than ${limits.maxBodyBytes} bytes.\n`;
    return { ...refuse("deny", 413, route.id, "body-too-large", text), closeConnection: true };
  }
  const bytesIn = body.length;
  const override = route.methods.length > 0 ? findMethodOverride(head.rawHeaders, head.path, body) : undefined;
  if (override !== undefined) {
    return { ...refuse("deny", 403, route.id, "method-override", overrideText(shown(cfg, head), head.method, override)), bytesIn };
  }
  // What the receiver reads: Content-Encoding undone (bounded), the declared charset.
  const decoded = decodeBody(body, request.headers, limits.maxBodyBytes);
  if (typeof decoded === "string") {
    return { ...refuse("block-leak", 403, route.id, decoded, uninspectableText(shown(cfg, head), decoded)), bytesIn };
  }
  const inspection = await inspectRequest({
    route,
    path: head.path,
    body,
    decoded,
    secrets: cfg.secrets,
    detector: cfg.detector,
    allowedSecrets,
    scanLimit: limits.scanLimitBytes,
    ...(limits.scanBody ? { scanBody: limits.scanBody } : {}),
  });
  if (inspection.verdict === "block-leak") {
    return { ...refuse("block-leak", 403, route.id, inspection.reason, leakText(shown(cfg, head))), bytesIn };
  }
  if (inspection.verdict === "block-pattern") {
    return { ...refuse("block-pattern", 403, route.id, inspection.reason, patternText(shown(cfg, head), inspection.reason)), bytesIn };
  }
  const missing = missingSecret(cfg, route);
  if (missing !== undefined) return { ...missingSecretRefusal(route, missing), path: inspection.path };
  return { action: "forward", route, path: inspection.path, body: inspection.body, redactions: inspection.redactions };
}

/** Head and body in one go (the proxy reads the body between the two). */
export async function decideRequest(cfg: Config, head: RequestHead, request: RequestBody, limits: DecisionLimits): Promise<Decision> {
  const first = decideHead(cfg, head);
  if (first.action === "refuse") return first;
  return decideBody(cfg, head, first, request, limits);
}

/** A WebSocket upgrade: the head's checks and the route's secrets; frames are inspected later. */
export function decideUpgrade(cfg: Config, head: RequestHead): HeadDecision {
  const first = decideHead(cfg, head);
  if (first.action === "refuse") return first;
  const missing = missingSecret(cfg, first.route);
  return missing === undefined ? first : missingSecretRefusal(first.route, missing);
}

/**
 * A CONNECT to host:port: the passthrough route that tunnels it blind, or undefined when egress
 * intercepts (and decides on each request inside). A host name carrying a secret is never
 * resolved or tunnelled: it is intercepted, and its requests are blocked.
 */
export function decideTunnel(cfg: Config, host: string, port: number): EgressRoutePlan | undefined {
  const first = routesForAuthority(cfg.routes, host, port)[0];
  return first?.passthrough && cfg.detector.findInHost(host).length === 0 ? first : undefined;
}

/** Host and path as refusal texts show them: any known secret form replaced by its id. */
export function shown(cfg: Config, head: Pick<RequestHead, "host" | "port" | "pathname">): { host: string; port: number; pathname: string } {
  return { host: cfg.detector.redactHost(head.host), port: head.port, pathname: cfg.detector.redact(head.pathname) };
}

/** The first secret the route injects that is not configured (a passthrough route injects nothing). */
function missingSecret(cfg: Config, route: EgressRoutePlan): string | undefined {
  if (route.passthrough) return undefined;
  return route.inject.find((i) => cfg.secrets[i.secret] === undefined)?.secret;
}

function missingSecretRefusal(route: EgressRoutePlan, secret: string): Refusal {
  const text = `bottle egress: route ${route.id} needs secret "${secret}", which is not configured.\n`;
  return refuse("error", 502, route.id, `missing-secret:${secret}`, text);
}

function refuse(decision: Refusal["decision"], status: number, route: string | null, reason: string, text: string): Refusal {
  return { action: "refuse", decision, status, route, reason, text };
}
