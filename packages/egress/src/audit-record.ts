import type { AuditDecision, AuditRecord, AuditTrail } from "./audit.js";
import type { Config } from "./config.js";
import { percentDecode } from "./normalize.js";
import type { Target } from "./target.js";

/** Writes the one audit line of a request or WebSocket, with what is known when it ends. */
export type Recorder = (decision: AuditDecision, status: number, route: string | null, extra?: Partial<AuditRecord>) => void;

/**
 * One audit line per request or upgrade; paths keep no query and no secret values. The
 * target is read when the line is written, so a path redacted on the way shows redacted.
 */
export function requestRecorder(audit: AuditTrail, cfg: Config, target: Target, id: string, method: string, started: number): Recorder {
  return (decision, status, route, extra = {}) =>
    audit.write({
      time: new Date().toISOString(),
      id,
      client: target.client,
      kind: target.kind,
      method,
      host: cfg.detector.redactHost(target.host),
      port: target.port,
      path: auditPath(cfg, target.pathname, decision),
      decision,
      route,
      status,
      bytesIn: 0,
      bytesOut: 0,
      durationMs: elapsedMs(started),
      ...extra,
    });
}

/** Runs a pattern rule could have matched: long runs of token characters within a path segment. */
const TOKEN_RUN = /[A-Za-z0-9_+=.-]{16,}/g;

/**
 * The path of an audit line: known values replaced; after a pattern block also every long
 * token-like run of the decoded path, since the finding (whose value must never reach a log)
 * may be in it.
 */
function auditPath(cfg: Config, pathname: string, decision: AuditDecision): string {
  const path = cfg.detector.redact(pathname);
  return decision === "block-pattern" ? percentDecode(path).replace(TOKEN_RUN, "[token]") : path;
}

/** The audit line of a passthrough tunnel (no path: egress never sees inside it). */
export function tunnelRecord(
  tunnel: { id: string; client: string; host: string; port: number; route: string; started: number },
  decision: AuditDecision,
  counts: { status: number; bytesIn: number; bytesOut: number },
  reason?: string,
): AuditRecord {
  return {
    time: new Date().toISOString(),
    id: tunnel.id,
    client: tunnel.client,
    kind: "tunnel",
    method: "CONNECT",
    host: tunnel.host,
    port: tunnel.port,
    path: "",
    decision,
    route: tunnel.route,
    status: counts.status,
    bytesIn: counts.bytesIn,
    bytesOut: counts.bytesOut,
    durationMs: elapsedMs(tunnel.started),
    ...(reason ? { reason } : {}),
  };
}

function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
