import path from "node:path";

/** Where each source writes, relative to a bottle's state dir (docs/audit.md). */
export function auditFiles(stateDir: string) {
  const bundleAudit = path.join(stateDir, "bundle", "audit");
  return {
    /** egress, inside the bundle (`/var/lib/bottle/audit/egress.jsonl`); rotated to `.1`. */
    egress: path.join(bundleAudit, "egress.jsonl"),
    egressRotated: path.join(bundleAudit, "egress.jsonl.1"),
    /** git-gate hooks (`/var/lib/bottle/audit/git-gate.jsonl`). */
    gitGate: path.join(bundleAudit, "git-gate.jsonl"),
    /** supervise request files (`/var/lib/bottle/requests/<id>.json`). */
    requests: path.join(stateDir, "bundle", "requests"),
    /** Route changes, written by the host only (outside the bundle's reach). */
    routes: path.join(stateDir, "audit", "routes.jsonl"),
  };
}
