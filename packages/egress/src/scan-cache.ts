import { createHash } from "node:crypto";
import { scanForSecrets, type PatternFinding } from "./scan.js";

/**
 * Pattern scan of request bodies in content-defined chunks, each scanned once per process.
 *
 * Claude Code resends the whole conversation every turn; scanning it whole costs O(conversation)
 * per request. Here the body is cut at JSON object starts (`{"type":`, `{"role":` — a message or
 * content block; inside a JSON string those quotes would be escaped, so only structure matches),
 * with a minimum and maximum chunk size, so the same history yields the same chunks again.
 *
 * Each chunk [a, b) is scanned as the window [a - leftContext, b + rightOverlap) and keeps the
 * findings that *start* inside it. A finding up to `rightOverlap` bytes long that crosses the
 * chunk's end is therefore found whole by the chunk it starts in; `leftContext` gives rules their
 * look-behind. The findings of a window depend only on its bytes and the chunk's place in it, so
 * they are cached under the SHA-256 of exactly that: with or without the cache, the findings
 * (and so every block/redact decision) are the same.
 */
export interface ChunkingOptions {
  /** Candidate cuts closer than this to the previous cut are skipped. */
  minChunk: number;
  /** A chunk longer than this is cut at fixed offsets. */
  maxChunk: number;
  /** Bytes before the chunk given to the scanner for context (findings starting there belong to the previous chunk). */
  leftContext: number;
  /** Bytes after the chunk given to the scanner: the longest finding guaranteed to be found across a cut. */
  rightOverlap: number;
}

/** The longest secretlint match of the recommended preset is a PEM private key (≤ 10,000 body characters + armour). */
export const DEFAULT_CHUNKING: ChunkingOptions = { minChunk: 16 * 1024, maxChunk: 64 * 1024, leftContext: 512, rightOverlap: 12 * 1024 };
/** ~250 bytes per entry (key, settled promise, usually no findings): 16,384 entries ≈ 4 MiB, covering ≥ 256 MiB of distinct content. */
export const DEFAULT_CACHE_ENTRIES = 16_384;

/** A finding with its [start, end) in bytes of the body. */
export interface BodyFinding {
  ruleId: string;
  messageId: string;
  start: number;
  end: number;
}

export interface ChunkScanStats {
  /** Windows looked at (one per chunk). */
  windows: number;
  /** Windows answered from the cache. */
  hits: number;
  /** Windows given to secretlint. */
  scans: number;
  /** Bytes given to secretlint. */
  bytesScanned: number;
  /** Bytes hashed for cache keys (windows equal to a recent body's are compared, not hashed). */
  bytesHashed: number;
  /** Entries in the cache now. */
  entries: number;
}

export interface ChunkedScanner {
  /** Findings in the first `limit` bytes of `body`, sorted by start. */
  scan(body: Buffer, limit: number): Promise<BodyFinding[]>;
  stats(): ChunkScanStats;
}

export interface ChunkedScannerOptions {
  /** false: scan every window every time (same findings; for comparison and benchmarks). */
  cache?: boolean;
  cacheEntries?: number;
  chunking?: Partial<ChunkingOptions>;
  /** The scanner of one window's text; default secretlint (scan.ts). */
  lint?: (text: string) => Promise<PatternFinding[]>;
}

interface RelativeFinding {
  ruleId: string;
  messageId: string;
  /** Bytes from the chunk's start. */
  start: number;
  end: number;
}

const NONE: readonly RelativeFinding[] = Object.freeze([]);
/** Bodies remembered for the memcmp shortcut (one per concurrent conversation, roughly). */
const RECENT_BODIES = 4;
/** …and at most this many bytes of them in all. */
const RECENT_MAX_BYTES = 8 * 1024 * 1024;
const CUT_MARKERS = [Buffer.from('{"type":'), Buffer.from('{"role":')];

export function createChunkedScanner(options: ChunkedScannerOptions = {}): ChunkedScanner {
  const chunking = { ...DEFAULT_CHUNKING, ...options.chunking };
  const useCache = options.cache ?? true;
  const maxEntries = options.cacheEntries ?? DEFAULT_CACHE_ENTRIES;
  const lint = options.lint ?? scanForSecrets;
  // Insertion order is recency: a hit moves its key to the end; the oldest key is evicted first.
  const cache = new Map<string, Promise<readonly RelativeFinding[]>>();
  const counters = { windows: 0, hits: 0, scans: 0, bytesScanned: 0, bytesHashed: 0 };

  // The last few bodies with their window keys: a window whose bytes equal the same window of a
  // recent body (memcmp, ~10× faster than SHA-256) reuses that key instead of hashing again.
  // Claude Code's next request repeats the previous one up to the new turn.
  const recent: Array<{ body: Buffer; keys: Map<string, string> }> = [];

  function windowKey(body: Buffer, ws: number, we: number, a: number, b: number, prev: { body: Buffer; keys: Map<string, string> } | undefined, keys: Map<string, string>): string {
    const coords = `${ws}:${we}:${a}:${b}`;
    const known = prev?.keys.get(coords);
    let key = known !== undefined && prev!.body.length >= we && body.compare(prev!.body, ws, we, ws, we) === 0 ? known : undefined;
    if (key === undefined) {
      counters.bytesHashed += we - ws;
      key = `${createHash("sha256").update(body.subarray(ws, we)).digest("base64")}:${a - ws}:${b - a}`;
    }
    keys.set(coords, key);
    return key;
  }

  async function scanWindow(body: Buffer, a: number, b: number, end: number, key: (ws: number, we: number) => string): Promise<readonly RelativeFinding[]> {
    const ws = charStart(body, Math.max(0, a - chunking.leftContext));
    const we = charStart(body, Math.min(end, b + chunking.rightOverlap));
    const window = body.subarray(ws, we);
    counters.windows++;
    const k = useCache ? key(ws, we) : "";
    const cached = useCache ? cache.get(k) : undefined;
    if (cached) {
      counters.hits++;
      cache.delete(k);
      cache.set(k, cached);
      return cached;
    }
    const pending = lintWindow(window, a - ws, b - ws);
    if (useCache) {
      cache.set(k, pending);
      if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
      // A failed scan is not remembered (the request fails; the next one scans again).
      pending.catch(() => cache.delete(k));
    }
    return pending;
  }

  async function lintWindow(window: Buffer, from: number, to: number): Promise<readonly RelativeFinding[]> {
    counters.scans++;
    counters.bytesScanned += window.length;
    const text = window.toString("utf8");
    const found = await lint(text);
    if (found.length === 0) return NONE;
    const out: RelativeFinding[] = [];
    for (const f of found) {
      const start = Buffer.byteLength(text.slice(0, f.start));
      if (start < from || start >= to) continue; // another chunk's finding
      const end = start + Buffer.byteLength(text.slice(f.start, f.end));
      out.push({ ruleId: f.ruleId, messageId: f.messageId, start: start - from, end: end - from });
    }
    return out.length === 0 ? NONE : Object.freeze(out);
  }

  return {
    async scan(body, limit) {
      const end = charStart(body, Math.min(body.length, limit));
      if (end === 0) return [];
      const cuts = chunkCuts(body, end, chunking);
      // The recent body this one continues (same first window bytes), if any.
      const firstEnd = Math.min(end, cuts[1] ?? end);
      const prev = useCache ? recent.find((r) => r.body.length >= firstEnd && body.compare(r.body, 0, firstEnd, 0, firstEnd) === 0) : undefined;
      const keys = new Map<string, string>();
      const results = await Promise.all(cuts.map((a, i) => scanWindow(body, a, cuts[i + 1] ?? end, end, (ws, we) => windowKey(body, ws, we, a, cuts[i + 1] ?? end, prev, keys))));
      if (useCache) {
        if (prev) recent.splice(recent.indexOf(prev), 1);
        if (body.length <= RECENT_MAX_BYTES) recent.unshift({ body, keys });
        while (recent.length > RECENT_BODIES || recent.reduce((n, r) => n + r.body.length, 0) > RECENT_MAX_BYTES) recent.pop();
      }
      const out: BodyFinding[] = [];
      results.forEach((found, i) => {
        for (const f of found) out.push({ ruleId: f.ruleId, messageId: f.messageId, start: cuts[i]! + f.start, end: cuts[i]! + f.end });
      });
      return out;
    },
    stats: () => ({ ...counters, entries: cache.size }),
  };
}

/**
 * Chunk starts for body[0, end): 0, then each JSON object start at least `minChunk` after the
 * previous cut, with fixed cuts (on UTF-8 character starts) inside stretches longer than `maxChunk`.
 */
export function chunkCuts(body: Buffer, end: number, opts: Pick<ChunkingOptions, "minChunk" | "maxChunk">): number[] {
  const candidates: number[] = [];
  for (const marker of CUT_MARKERS) {
    for (let at = body.indexOf(marker); at !== -1 && at < end; at = body.indexOf(marker, at + 1)) candidates.push(at);
  }
  candidates.sort((x, y) => x - y);
  const cuts = [0];
  let last = 0;
  const fill = (upTo: number) => {
    while (upTo - last > opts.maxChunk) {
      const next = charStart(body, last + opts.maxChunk);
      if (next >= upTo) break;
      cuts.push(next);
      last = next;
    }
  };
  for (const c of candidates) {
    fill(c);
    if (c - last >= opts.minChunk) {
      cuts.push(c);
      last = c;
    }
  }
  fill(end);
  return cuts;
}

/** `at`, moved forward past UTF-8 continuation bytes so it starts a character. */
function charStart(body: Buffer, at: number): number {
  let i = at;
  while (i < body.length && (body[i]! & 0xc0) === 0x80) i++;
  return i;
}
