/** Bytes of a request body given to secretlint; the rest is not pattern-scanned. */
export const DEFAULT_SCAN_LIMIT = 1024 * 1024;

// secretlint costs ~0.5 ms per call; URLs without a token-like run cannot match its rules.
const TOKENISH = /[A-Za-z0-9_+/=.-]{16,}/;

export interface PatternFinding {
  /** secretlint rule id, e.g. `@secretlint/secretlint-rule-aws`. Never the matched text. */
  ruleId: string;
}

type Lint = (content: string) => Promise<PatternFinding[]>;
let linter: Promise<Lint> | undefined;

// Loaded on first use: the preset is large and most requests (GETs without tokens) never need it.
async function loadLinter(): Promise<Lint> {
  const [{ lintSource }, { creator: recommended }] = await Promise.all([
    import("@secretlint/core"),
    import("@secretlint/secretlint-rule-preset-recommend"),
  ]);
  const config = { rules: [{ id: recommended.meta.id, rule: recommended }] };
  return async (content) => {
    const result = await lintSource({
      source: { content, filePath: "/egress-request.txt", contentType: "text" },
      options: { config, maskSecrets: true, noPhysicFilePath: true },
    });
    return result.messages.map((m) => ({ ruleId: m.ruleId }));
  };
}

/** Runs the secretlint recommended preset over `content`; returns the rules that fired. */
export async function scanForSecrets(content: string): Promise<PatternFinding[]> {
  if (content.length === 0) return [];
  linter ??= loadLinter();
  return (await linter)(content);
}

export function urlWorthScanning(url: string): boolean {
  return TOKENISH.test(url);
}
