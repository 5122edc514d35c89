import { randomBytes } from "node:crypto";
import { appendFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { auditFiles } from "./files.js";
import { AUDIT_SCHEMA_VERSION } from "./schema.js";
import type { RouteChangeRecord } from "./sources.js";

export type RouteChange = Omit<RouteChangeRecord, "v" | "time" | "id">;

/**
 * Appends one route change (apply, approve, revoke) to `<state>/audit/routes.jsonl`. The
 * host writes it after the routes file was replaced and egress signalled; the folder is
 * 0700 and outside every mount, so no sidecar can forge it.
 */
export async function recordRouteChange(stateDir: string, change: RouteChange, now = new Date()): Promise<RouteChangeRecord> {
  const file = auditFiles(stateDir).routes;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const record: RouteChangeRecord = { v: AUDIT_SCHEMA_VERSION, time: now.toISOString(), id: `route-${randomBytes(4).toString("hex")}`, ...change };
  await appendFile(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  return record;
}
