import { lintSource } from "@secretlint/core";
import { secretLintProfiler } from "@secretlint/profiler";
import { rules as recommendedRules } from "@secretlint/secretlint-rule-preset-recommend";
import { createKnownSecretMatcher, type KnownSecretMatcher } from "./known-secrets.js";

export interface Finding {
  /** secretlint rule id (e.g. `@secretlint/secretlint-rule-aws`) or `bottle/known-secret`. */
  rule: string;
  /** Readable description; secret values are masked, known secrets are named by id. */
  message: string;
  path: string;
  /** 1-based line in the file (for git scans: in the pushed version of the file). */
  line: number;
  /** 1-based column. */
  column: number;
  /** Id from secrets.json when the finding is a known secret value. */
  secretId?: string;
  /** Commit that added the content (git scans). */
  commit?: string;
}

/** A piece of text to scan, e.g. the added lines of one file in one commit. */
export interface TextItem {
  path: string;
  text: string;
  /** Real line number of each line of `text` (added lines are not contiguous); default 1, 2, 3, … */
  lines?: number[];
  commit?: string;
}

export interface ScannerOptions {
  /** `{ secretId: value }`, e.g. the bottle's secrets.json. Values are never printed. */
  knownSecrets?: Record<string, string>;
  /** Texts are concatenated into chunks of about this size per secretlint run (default 1 MiB). */
  batchBytes?: number;
}

export interface ScanBatch {
  /** Queue a text; scans the queued texts once they reach the batch size. */
  add(item: TextItem): Promise<Finding[]>;
  /** Scan whatever is queued. */
  flush(): Promise<Finding[]>;
}

export interface Scanner {
  scanText(text: string, options: { path: string; lines?: number[]; commit?: string }): Promise<Finding[]>;
  /** Text or binary content: binary (a NUL byte in the first 8000 bytes, as git decides) is checked for known secret values only. */
  scanBuffer(content: Buffer, options: { path: string; commit?: string }): Promise<Finding[]>;
  batch(): ScanBatch;
  readonly knownSecretCount: number;
}

export const KNOWN_SECRET_RULE = "bottle/known-secret";

const FILTER_COMMENTS_RULE = "@secretlint/secretlint-rule-filter-comments";

/**
 * The rules of secretlint's recommended preset, registered one by one. The pushed content
 * is written by the agent, so it must not be able to switch the scan off: the preset's
 * `secretlint-disable` comment filter is left out.
 */
const SECRETLINT_CONFIG = {
  rules: recommendedRules
    .filter((rule) => rule.meta.id !== FILTER_COMMENTS_RULE)
    .map((rule) => ({ id: rule.meta.id, rule })),
};

/** Extensions whose secretlint rules look at the whole file (gcp service-account JSON). */
const WHOLE_FILE_EXTENSIONS = new Set([".json"]);

export function isBinary(content: Buffer): boolean {
  return content.subarray(0, 8000).includes(0);
}

/**
 * UTF-16 text (a BOM, or NUL in every other byte as ASCII-range text has) decoded to a
 * string; anything else undefined.
 */
export function decodeUtf16(content: Buffer): string | undefined {
  const hasLeBom = content[0] === 0xff && content[1] === 0xfe;
  const hasBeBom = content[0] === 0xfe && content[1] === 0xff;
  let littleEndian = hasLeBom;
  if (!hasLeBom && !hasBeBom) {
    const sample = content.subarray(0, 8000);
    if (sample.length < 4) return undefined;
    let evenZero = 0;
    let oddZero = 0;
    for (let i = 0; i + 1 < sample.length; i += 2) {
      if (sample[i] === 0) evenZero++;
      if (sample[i + 1] === 0) oddZero++;
    }
    const pairs = Math.floor(sample.length / 2);
    if (oddZero >= pairs * 0.6 && evenZero < pairs * 0.1) littleEndian = true;
    else if (evenZero >= pairs * 0.6 && oddZero < pairs * 0.1) littleEndian = false;
    else return undefined;
  }
  const body = content.subarray(hasLeBom || hasBeBom ? 2 : 0, content.length - (content.length % 2));
  if (littleEndian) return body.toString("utf16le");
  const swapped = Buffer.from(body);
  swapped.swap16();
  return swapped.toString("utf16le");
}

function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot).toLowerCase() : "";
}

interface Placed {
  item: TextItem;
  start: number;
}

function locate(placed: Placed[], offset: number): { item: TextItem; line: number; column: number } | undefined {
  let lo = 0;
  let hi = placed.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (placed[mid]!.start <= offset) lo = mid;
    else hi = mid - 1;
  }
  const hit = placed[lo];
  if (!hit) return undefined;
  const local = offset - hit.start;
  let line = 1;
  let lineStart = 0;
  const text = hit.item.text;
  for (let i = text.indexOf("\n"); i !== -1 && i < local; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  const realLine = hit.item.lines?.[line - 1] ?? line;
  return { item: hit.item, line: realLine, column: local - lineStart + 1 };
}

function finding(base: Omit<Finding, "commit">, commit: string | undefined): Finding {
  return commit === undefined ? base : { ...base, commit };
}

function maskKnown(message: string, secrets: Record<string, string>): string {
  let out = message;
  for (const value of Object.values(secrets)) {
    if (typeof value === "string" && value.length >= 4) out = out.split(value).join("*".repeat(value.length));
  }
  return out;
}

async function lintChunk(
  placed: Placed[],
  text: string,
  path: string,
  ext: string,
  known: KnownSecretMatcher,
  secrets: Record<string, string>,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const result = await lintSource({
    source: { content: text, filePath: path, ext, contentType: "text" },
    options: { config: SECRETLINT_CONFIG as never, maskSecrets: true, noPhysicFilePath: true },
  });
  for (const message of result.messages) {
    const at = locate(placed, message.range[0]);
    if (!at) continue;
    findings.push(
      finding(
        {
          rule: message.ruleId,
          message: maskKnown(message.message, secrets).replace(/\*{9,}/g, "********"),
          path: at.item.path,
          line: at.line,
          column: at.column,
        },
        at.item.commit,
      ),
    );
  }
  for (const match of known.matchText(text)) {
    const at = locate(placed, match.index);
    if (!at) continue;
    findings.push(knownFinding(match.secretId, match.encoding, at.item.path, at.line, at.column, at.item.commit));
  }
  return findings;
}

function knownFinding(
  secretId: string,
  encoding: string,
  path: string,
  line: number,
  column: number,
  commit: string | undefined,
): Finding {
  const form = encoding === "raw" ? "" : ` (${encoding}-encoded)`;
  return finding(
    { rule: KNOWN_SECRET_RULE, message: `contains the value of secret "${secretId}"${form}`, path, line, column, secretId },
    commit,
  );
}

/**
 * One scanner per process: secretlint's recommended preset plus the bottle's known secret
 * values. Small texts are concatenated into larger chunks, because each secretlint run has
 * a fixed cost that dominates on small files.
 */
export function createScanner(options: ScannerOptions = {}): Scanner {
  muteSecretlintProfiler();
  const secrets = options.knownSecrets ?? {};
  const known = createKnownSecretMatcher(secrets);
  const batchBytes = options.batchBytes ?? 1 << 20;

  function batch(): ScanBatch {
    let queue: Placed[] = [];
    let size = 0;
    async function flush(): Promise<Finding[]> {
      if (queue.length === 0) return [];
      const placed = queue;
      queue = [];
      size = 0;
      const text = placed.length === 1 ? placed[0]!.item.text : placed.map((p) => p.item.text).join("\n");
      const path = placed.length === 1 ? placed[0]!.item.path : "batch";
      return lintChunk(placed, text, path, "", known, secrets);
    }
    return {
      async add(item) {
        const ext = extensionOf(item.path);
        if (WHOLE_FILE_EXTENSIONS.has(ext)) {
          return lintChunk([{ item, start: 0 }], item.text, item.path, ext, known, secrets);
        }
        queue.push({ item, start: size });
        size += item.text.length + 1;
        return size >= batchBytes ? flush() : [];
      },
      flush,
    };
  }

  return {
    knownSecretCount: known.size,
    batch,
    async scanText(text, opts) {
      const b = batch();
      const item: TextItem = { path: opts.path, text };
      if (opts.lines) item.lines = opts.lines;
      if (opts.commit !== undefined) item.commit = opts.commit;
      return [...(await b.add(item)), ...(await b.flush())];
    },
    async scanBuffer(content, opts) {
      if (!isBinary(content)) return this.scanText(content.toString("utf8"), opts);
      const found = known.matchBytes(content).map((match) => {
        // Binary content has no lines: report the byte offset as the column of line 1.
        return knownFinding(match.secretId, match.encoding, opts.path, 1, match.index + 1, opts.commit);
      });
      // UTF-16 text looks binary to git: decode it so secretlint's rules see it as well.
      const decoded = decodeUtf16(content);
      if (decoded !== undefined) {
        for (const f of await this.scanText(decoded, opts)) if (f.rule !== KNOWN_SECRET_RULE) found.push(f);
      }
      return found;
    },
  };
}

/**
 * secretlint's profiler leaves performance marks (4 per rule plus 4 per `lintSource` call: 60 with these rules)
 * in the process-wide timeline and never clears them: memory and per-call cost grow with every
 * scan. Nothing reads them. The profiler is one module instance shared with @secretlint/core
 * (same pinned version), so its `mark` becomes a no-op.
 */
export function muteSecretlintProfiler(): void {
  secretLintProfiler.mark = () => {};
}

/** `path:line:column rule message`, one per line; never contains a secret value. */
export function formatFindings(findings: Finding[]): string {
  return findings
    .map((f) => {
      const where = `${f.path}:${f.line}:${f.column}`;
      const commit = f.commit ? ` (commit ${f.commit.slice(0, 12)})` : "";
      return `${where}  ${f.rule}  ${f.message}${commit}`;
    })
    .join("\n");
}

export function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      (a.commit ?? "").localeCompare(b.commit ?? "") ||
      a.path.localeCompare(b.path) ||
      a.line - b.line ||
      a.column - b.column ||
      a.rule.localeCompare(b.rule),
  );
}
