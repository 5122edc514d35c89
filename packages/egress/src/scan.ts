/**
 * Bytes of a request body given to secretlint; the rest is not pattern-scanned. Conversations
 * resent every turn are scanned once per chunk (scan-cache.ts), so this bounds a cold scan, not
 * the per-turn cost.
 */
export const DEFAULT_SCAN_LIMIT = 4 * 1024 * 1024;

// secretlint costs ~0.5 ms per call; URLs without a token-like run cannot match its rules.
const TOKENISH = /[A-Za-z0-9_+/=.-]{16,}/;

/** The preset's `secretlint-disable` comment filter: the scanned text is written by the agent, so it must not switch the scan off. */
const FILTER_COMMENTS_RULE = "@secretlint/secretlint-rule-filter-comments";

export interface PatternFinding {
  /** secretlint rule id, e.g. `@secretlint/secretlint-rule-aws`. Never the matched text. */
  ruleId: string;
  /** secretlint message id, e.g. `AWSSecretAccessKey` (names the kind of credential). */
  messageId: string;
  /** [start, end) in the scanned string, widened to cover the whole reported value. */
  start: number;
  end: number;
}

/** Work done by the pattern scanner in this process (for tests and benchmarks: work, not time). */
export interface ScanStats {
  /** secretlint runs. */
  calls: number;
  /** Characters given to secretlint. */
  chars: number;
}

const stats: ScanStats = { calls: 0, chars: 0 };

export function scanStats(): ScanStats {
  return { ...stats };
}

type Lint = (content: string) => Promise<PatternFinding[]>;
let linter: Promise<Lint> | undefined;

// Loaded on first use: the preset is large and most requests (GETs without tokens) never need it.
async function loadLinter(): Promise<Lint> {
  const [{ lintSource }, { rules }, { secretLintProfiler }] = await Promise.all([
    import("@secretlint/core"),
    import("@secretlint/secretlint-rule-preset-recommend"),
    import("@secretlint/profiler"),
  ]);
  muteProfiler(secretLintProfiler);
  const config = { rules: rules.filter((r) => r.meta.id !== FILTER_COMMENTS_RULE).map((r) => ({ id: r.meta.id, rule: r })) };
  return async (content) => {
    stats.calls++;
    stats.chars += content.length;
    const result = await lintSource({
      source: { content, filePath: "/egress-request.txt", contentType: "text" },
      // Unmasked so the reported value can be located exactly; messages never leave this module.
      options: { config: config as never, maskSecrets: false, noPhysicFilePath: true },
    });
    return result.messages.map((m) => ({ ruleId: m.ruleId, messageId: m.messageId ?? "", ...valueRange(content, m.range, m.data) }));
  };
}

/**
 * secretlint's profiler puts a `performance.mark` (and a measure, and an observer entry it
 * keeps forever) on every `lintSource` call: per-call cost and heap grow with the number of
 * calls. Nothing reads them, so marking becomes a no-op. The profiler is one module instance
 * shared with `@secretlint/core` (same pinned version).
 */
export function muteProfiler(profiler: { mark: (...args: never[]) => void }): void {
  profiler.mark = () => {};
}

/**
 * Some rules report a range that does not cover the value (the AWS secret-key rule starts it at
 * the key name, with the value's length). The value itself is in the message data: the range
 * grows to cover each reported value found overlapping or right after it.
 */
function valueRange(content: string, range: readonly [number, number], data: unknown): { start: number; end: number } {
  let [start, end] = range;
  const values = data && typeof data === "object" ? Object.values(data as Record<string, unknown>) : [];
  for (const v of values) {
    if (typeof v !== "string" || v.length < 8) continue;
    const at = content.indexOf(v, Math.max(0, range[0] - v.length + 1));
    if (at === -1 || at > range[1]) continue;
    start = Math.min(start, at);
    end = Math.max(end, at + v.length);
  }
  return { start, end };
}

/** Runs the secretlint recommended preset over `content`; returns what fired, with ranges. */
export async function scanForSecrets(content: string): Promise<PatternFinding[]> {
  if (content.length === 0) return [];
  linter ??= loadLinter();
  return (await linter)(content);
}

export function urlWorthScanning(url: string): boolean {
  return TOKENISH.test(url);
}
