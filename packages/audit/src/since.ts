import { BottleError } from "@bottle/errors";

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `10m`, `2h`, `30s`, `1d` (before `now`) or an ISO 8601 time → the instant it names. */
export function parseSince(text: string, now = new Date()): Date {
  const trimmed = text.trim();
  const relative = /^(\d+(?:\.\d+)?)\s*([smhd])$/i.exec(trimmed);
  if (relative) return new Date(now.getTime() - Number(relative[1]) * UNITS[relative[2]!.toLowerCase()]!);
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const date = new Date(trimmed);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new BottleError(`--since "${text}" is neither a duration nor a time`, {
    code: "AUDIT_BAD_SINCE",
    hint: "use a duration like 30s, 10m, 2h, 1d, or an ISO time like 2026-11-29T22:00:00Z",
  });
}
