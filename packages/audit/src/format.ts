import type { AuditEvent } from "./schema.js";

const OUTCOME_WIDTH = 7;

function clock(iso: string): string {
  // local wall time with milliseconds; the date only when it is not today
  const d = new Date(iso);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const today = new Date();
  const day = d.toDateString() === today.toDateString() ? "" : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `;
  return `${day}${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** One line of the `bottle audit` table. */
export function formatAuditLine(e: AuditEvent): string {
  const links = e.links.length > 0 ? `  ← ${e.links.join(", ")}` : "";
  const thread = e.thread ? `  [${e.thread}]` : "";
  return `${clock(e.time)}  ${e.source.padEnd(9)} ${e.outcome.toUpperCase().padEnd(OUTCOME_WIDTH)}  ${e.id.padEnd(20)}  ${e.summary}${thread}${links}`;
}

export const AUDIT_TABLE_HEADER = `${"TIME".padEnd(12)}  ${"SOURCE".padEnd(9)} ${"OUTCOME".padEnd(OUTCOME_WIDTH)}  ${"ID".padEnd(20)}  WHAT  [THREAD]  ← FOLLOWS FROM`;
