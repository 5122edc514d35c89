/** Version of the records below; bumped on any change a reader must know about (docs/audit.md). */
export const AUDIT_SCHEMA_VERSION = 1 as const;

export type AuditSource = "egress" | "git-gate" | "supervise" | "routes";

export type AuditKind = "http" | "tunnel" | "websocket" | "route-request" | "question" | "push" | "fetch" | "route-change";

/**
 * What happened, one word. egress: allow | deny | block | redact | error. supervise:
 * pending | approve | deny | answer | revoke. git-gate: accept | reject (pushes),
 * allow | deny (fetches). routes: apply | approve | revoke.
 */
export type AuditOutcome = "allow" | "deny" | "block" | "redact" | "error" | "pending" | "approve" | "answer" | "revoke" | "accept" | "reject" | "apply";

/** One record of a bottle's activity stream (docs/audit.md). Never carries a secret value. */
export interface AuditEvent {
  v: typeof AUDIT_SCHEMA_VERSION;
  /** ISO 8601, UTC. */
  time: string;
  /** Unique within the bottle and stable across reads. */
  id: string;
  source: AuditSource;
  kind: AuditKind;
  outcome: AuditOutcome;
  /** One line a human reads. */
  summary: string;
  /** Groups related records; for route requests the supervise request id (`req-…`). */
  thread?: string;
  /** Ids of the records this one follows from (a request → the denial it answers, …). */
  links: string[];
  /** Why: a rule, a secret id (never its value), a ref-policy message, the human's note. */
  reason?: string;
  /** egress */
  http?: {
    method: string;
    host: string;
    port: number;
    path: string;
    status: number;
    route: string | null;
    bytesIn: number;
    bytesOut: number;
    durationMs: number;
    client: string;
  };
  /** supervise */
  request?: {
    id: string;
    kind: "egress-route" | "question";
    status: "pending" | "approved" | "denied";
    host?: string;
    methods?: string[];
    ports?: number[];
    /** Narrowed approval: path prefixes granted. */
    paths?: string[];
    question?: string;
    answer?: string;
    /** The agent's reason for asking. */
    why?: string;
    by?: string;
    revoked?: boolean;
  };
  /** git-gate */
  git?: {
    repo: string;
    refs: Array<{ ref: string; old: string; new: string }>;
    findings: Array<{ at: string; rule: string }>;
  };
  /** routes: the route changed, and who changed it */
  routes?: { ids: string[]; hosts: string[]; requestId?: string; by?: string };
}
