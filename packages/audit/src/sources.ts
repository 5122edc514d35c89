// Pure converters: one line or file of a sidecar (or of the host) → records of the one schema.
import type { AuditRecord } from "@bottle/egress";
import type { SuperviseRequest } from "@bottle/supervise";
import { AUDIT_SCHEMA_VERSION, type AuditEvent, type AuditOutcome } from "./schema.js";

function egressOutcome(decision: string): AuditOutcome {
  if (decision === "allow" || decision === "deny" || decision === "error") return decision;
  if (decision.startsWith("block")) return "block";
  if (decision.startsWith("redact")) return "redact";
  return "error";
}

const REASONS: Record<string, string> = {
  host: "no route for this host",
  method: "method not allowed on this route",
  path: "path not allowed on this route",
  port: "port not allowed on this route",
};

/** One line of `bundle/audit/egress.jsonl`. */
export function fromEgress(r: AuditRecord): AuditEvent {
  const outcome = egressOutcome(r.decision);
  const target = `${r.method} ${r.host}${r.port === 443 || r.port === 80 ? "" : `:${r.port}`}${r.kind === "tunnel" ? "" : r.path}`;
  const why = r.reason ? (REASONS[r.reason] ?? (outcome === "block" ? `${r.decision === "block-leak" ? "secret" : "finding"} ${r.reason}` : r.reason)) : undefined;
  const status = r.status ? ` → ${r.status}` : "";
  return {
    v: AUDIT_SCHEMA_VERSION,
    time: r.time,
    id: `egress-${r.id}`,
    source: "egress",
    kind: r.kind === "request" ? "http" : r.kind,
    outcome,
    summary: `${target}${status}${why ? ` (${why})` : r.route ? ` via ${r.route}` : ""}`,
    links: [],
    ...(r.reason ? { reason: r.reason } : {}),
    http: {
      method: r.method,
      host: r.host,
      port: r.port,
      path: r.path,
      status: r.status,
      route: r.route,
      bytesIn: r.bytesIn,
      bytesOut: r.bytesOut,
      durationMs: r.durationMs,
      client: r.client,
    },
  };
}

/** One line of `bundle/audit/git-gate.jsonl` (written by the gate hooks). */
export interface GateRecord {
  v?: number;
  time: string;
  id: string;
  op: "push" | "fetch";
  repo: string;
  decision: "accept" | "reject" | "allow" | "deny";
  reason?: string;
  refs?: Array<{ ref: string; old: string; new: string }>;
  findings?: Array<{ at: string; rule: string }>;
}

const short = (sha: string) => (/^0+$/.test(sha) ? "(new)" : sha.slice(0, 8));

export function fromGate(r: GateRecord): AuditEvent {
  const refs = r.refs ?? [];
  const findings = r.findings ?? [];
  const range = refs.map((x) => `${x.ref.replace(/^refs\/heads\//, "")} ${short(x.old)}..${/^0+$/.test(x.new) ? "(delete)" : short(x.new)}`).join(", ");
  const what = r.op === "push" ? `push to ${r.repo}${range ? ` ${range}` : ""}` : `fetch from ${r.repo}`;
  const detail = findings.length > 0 ? ` (${findings.length} finding${findings.length === 1 ? "" : "s"}: ${findings.slice(0, 3).map((f) => `${f.at} ${f.rule}`).join("; ")})` : r.reason ? ` (${r.reason})` : "";
  return {
    v: AUDIT_SCHEMA_VERSION,
    time: r.time,
    id: r.id,
    source: "git-gate",
    kind: r.op,
    outcome: r.decision,
    summary: `${what}${detail}`,
    links: [],
    ...(r.reason ? { reason: r.reason } : {}),
    git: { repo: r.repo, refs, findings },
  };
}

function routeText(req: Extract<SuperviseRequest, { kind: "egress-route" }>): string {
  const methods = req.request.methods.length > 0 ? req.request.methods.join(",") : "any method";
  return `${req.request.host}:${req.request.ports.join(",")} (${methods})`;
}

/** A supervise request file → its filing, its decision and its revocation. */
export function fromSupervise(req: SuperviseRequest): AuditEvent[] {
  const base = { v: AUDIT_SCHEMA_VERSION, source: "supervise" as const, thread: req.id };
  const request: NonNullable<AuditEvent["request"]> =
    req.kind === "egress-route"
      ? { id: req.id, kind: req.kind, status: req.status, host: req.request.host, methods: req.request.methods, ports: req.request.ports, why: req.request.reason }
      : { id: req.id, kind: req.kind, status: req.status, question: req.request.question };
  const kind = req.kind === "egress-route" ? ("route-request" as const) : ("question" as const);
  const asked = req.kind === "egress-route" ? `agent asks for ${routeText(req)}: ${req.request.reason}` : `agent asks: ${req.request.question}`;
  const events: AuditEvent[] = [{ ...base, time: req.createdAt, id: `${req.id}:filed`, kind, outcome: "pending", summary: asked, links: [], request: { ...request, status: "pending" } }];
  const d = req.decision;
  if (d && req.status !== "pending") {
    const approved = req.status === "approved";
    const narrowed = [d.methods?.length ? d.methods.join(",") : "", d.paths?.length ? `paths ${d.paths.join(", ")}` : ""].filter(Boolean).join(" ");
    const who = d.by ? ` by ${d.by}` : "";
    const summary =
      req.kind === "question"
        ? approved
          ? `answered${who}: ${d.answer ?? "(no text)"}`
          : `declined${who}${d.reason ? `: ${d.reason}` : ""}`
        : approved
          ? `approved${who}: ${req.request.host}${narrowed ? ` narrowed to ${narrowed}` : ""}${d.reason ? ` (${d.reason})` : ""}`
          : `denied${who}: ${req.request.host}${d.reason ? ` (${d.reason})` : ""}`;
    events.push({
      ...base,
      time: d.at,
      id: `${req.id}:${req.status}`,
      kind,
      outcome: req.kind === "question" ? (approved ? "answer" : "deny") : approved ? "approve" : "deny",
      summary,
      links: [`${req.id}:filed`],
      ...(d.reason ? { reason: d.reason } : {}),
      request: { ...request, ...(d.methods ? { methods: d.methods } : {}), ...(d.paths ? { paths: d.paths } : {}), ...(d.answer ? { answer: d.answer } : {}), ...(d.by ? { by: d.by } : {}) },
    });
  }
  if (req.revoked) {
    events.push({
      ...base,
      time: req.revoked.at,
      id: `${req.id}:revoked`,
      kind,
      outcome: "revoke",
      summary: `revoked${req.revoked.by ? ` by ${req.revoked.by}` : ""}: ${req.kind === "egress-route" ? req.request.host : req.id}${req.revoked.reason ? ` (${req.revoked.reason})` : ""}`,
      links: [`${req.id}:${req.status}`],
      ...(req.revoked.reason ? { reason: req.revoked.reason } : {}),
      request: { ...request, revoked: true, ...(req.revoked.by ? { by: req.revoked.by } : {}) },
    });
  }
  return events;
}

/** One line of `<state>/audit/routes.jsonl`, written by the host (apply, approve, revoke). */
export interface RouteChangeRecord {
  v: number;
  time: string;
  id: string;
  change: "apply" | "approve" | "revoke";
  routes: Array<{ id: string; host: string }>;
  requestId?: string;
  by?: string;
  reason?: string;
}

export function fromRouteChange(r: RouteChangeRecord): AuditEvent {
  const hosts = r.routes.map((x) => x.host);
  const verb = r.change === "apply" ? `applied ${hosts.length} route${hosts.length === 1 ? "" : "s"}` : r.change === "approve" ? "route added" : "route removed";
  return {
    v: AUDIT_SCHEMA_VERSION,
    time: r.time,
    id: r.id,
    source: "routes",
    kind: "route-change",
    outcome: r.change,
    summary: `${verb}: ${hosts.join(", ") || "none (deny all)"}${r.by ? ` by ${r.by}` : ""}${r.reason ? ` (${r.reason})` : ""}; egress reloaded`,
    ...(r.requestId ? { thread: r.requestId } : {}),
    links: r.requestId ? [`${r.requestId}:${r.change === "revoke" ? "revoked" : "approved"}`] : [],
    ...(r.reason ? { reason: r.reason } : {}),
    routes: { ids: r.routes.map((x) => x.id), hosts, ...(r.requestId ? { requestId: r.requestId } : {}), ...(r.by ? { by: r.by } : {}) },
  };
}
