import { createHash } from "node:crypto";
import { secretForms, type SecretForm } from "./leaks.js";
import { jsonUnescape, percentDecode } from "./normalize.js";

/**
 * The leak detector's exact-value check over a body's views (leaks.ts `findInDecoded`: every
 * known secret form, in every view normalize.ts `textViews` gives — percent escapes, `+` as
 * space, JSON escapes, two rounds, each with whitespace removed), with the same answer, at a
 * cost proportional to what is new in the body.
 *
 * Why this is exact: every view is a composition of decoders that each work escape by escape
 * (percent, `+`, JSON) plus whitespace removal, so for a cut before a `{` — a character no
 * escape contains or continues — view(A + B) = view(A) + view(B). The body is cut before
 * `{"type":` / `{"role":` (Claude Code's message and content-block starts). Each chunk is
 * checked once (cached by SHA-256): which secrets occur inside any of its views, plus, per view,
 * its first and last m − 1 characters (m = the longest secret form). Every request then joins
 * those edges chunk by chunk, so an occurrence across any cut — even one stretched by
 * whitespace that a view removes — is found too.
 */
export interface LeakCheck {
  /** Secret ids in a UTF-8 body, as `detector.findInDecoded(bytes, bytes.toString("utf8"))` finds them. */
  find(bytes: Buffer): string[];
  stats(): { chunks: number; hits: number; charsChecked: number; entries: number };
}

interface Needle extends SecretForm {
  lower: string;
}

interface ChunkResult {
  found: readonly string[];
  /** Per transform: [head, tail] of the chunk's view (each at most m − 1 characters), or the whole view when shorter. */
  edges: ReadonlyArray<readonly [string, string] | string>;
}

const MIN_CHUNK = 16 * 1024;
const DEFAULT_ENTRIES = 4096;
const CUT_MARKERS = [Buffer.from('{"type":'), Buffer.from('{"role":')];

type Decoder = (text: string) => string;
const identity: Decoder = (t) => t;
const pct: Decoder = (t) => percentDecode(t);
const pctPlus: Decoder = (t) => percentDecode(t.includes("+") ? t.replace(/\+/g, " ") : t);
const json: Decoder = (t) => (t.includes("\\") ? jsonUnescape(t) : t);
const ROUND = [pct, pctPlus, json];
/** textViews as transforms: the text, one decoding, two decodings; each also without whitespace. */
const DECODINGS: Decoder[][] = [[identity], ...ROUND.map((d) => [d]), ...ROUND.flatMap((d1) => ROUND.map((d2) => [d1, d2]))];
const strip: Decoder = (t) => (/\s/.test(t) ? t.replace(/\s+/g, "") : t);
/** Each transform as its steps (the order of views in a cache entry's edges). */
const TRANSFORMS: Decoder[][] = DECODINGS.flatMap((steps) => [steps, [...steps, strip]]);

export function createLeakCheck(secrets: Readonly<Record<string, string>>, options: { entries?: number; minChunk?: number } = {}): LeakCheck {
  const needles: Needle[] = [];
  const rawBytes: Array<{ secret: string; bytes: Buffer }> = [];
  for (const form of secretForms(secrets)) {
    needles.push({ ...form, lower: form.text.toLowerCase() });
    // The detector also searches each form's latin1 bytes in the raw bytes; for ASCII forms that
    // is the same as searching the text, so only non-ASCII forms need a byte search.
    if (/[^\x00-\x7f]/.test(form.text)) rawBytes.push({ secret: form.secret, bytes: Buffer.from(form.text, "latin1") });
  }
  const edge = Math.max(0, ...needles.map((n) => n.text.length)) - 1;
  const maxEntries = options.entries ?? DEFAULT_ENTRIES;
  const minChunk = options.minChunk ?? MIN_CHUNK;
  const cache = new Map<string, ChunkResult>();
  const counters = { chunks: 0, hits: 0, charsChecked: 0 };

  const search = (view: string, found: Set<string>) => {
    let lower: string | undefined;
    for (const n of needles) {
      if (found.has(n.secret)) continue;
      if (view.includes(n.text)) found.add(n.secret);
      else if (n.caseless && (lower ??= view.toLowerCase()).includes(n.lower)) found.add(n.secret);
    }
  };

  function checkChunk(text: string): ChunkResult {
    counters.charsChecked += text.length;
    const found = new Set<string>();
    const seen = new Map<string, readonly [string, string] | string>();
    // Most decodings leave a chunk as it is: each decoder runs once per distinct input.
    const memo = new Map<Decoder, Map<string, string>>();
    const run = (d: Decoder, t: string) => {
      let m = memo.get(d);
      if (!m) memo.set(d, (m = new Map()));
      let out = m.get(t);
      if (out === undefined) m.set(t, (out = d(t)));
      return out;
    };
    const edges = TRANSFORMS.map((steps) => {
      const view = steps.reduce((t, d) => run(d, t), text);
      let e = seen.get(view);
      if (e === undefined) {
        search(view, found);
        e = view.length <= edge ? detach(view) : ([detach(view.slice(0, edge)), detach(view.slice(view.length - edge))] as const);
        seen.set(view, e);
      }
      return e;
    });
    return { found: [...found], edges };
  }

  return {
    find(bytes) {
      if (needles.length === 0 || bytes.length === 0) return [];
      const found = new Set<string>();
      for (const r of rawBytes) if (!found.has(r.secret) && bytes.indexOf(r.bytes) !== -1) found.add(r.secret);
      const results = cuts(bytes, minChunk).map(([a, b]) => {
        counters.chunks++;
        const key = createHash("sha256").update(bytes.subarray(a, b)).digest("base64");
        let r = cache.get(key);
        if (r) {
          counters.hits++;
          cache.delete(key);
        } else {
          r = checkChunk(bytes.toString("utf8", a, b));
        }
        cache.set(key, r);
        if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
        return r;
      });
      for (const r of results) for (const id of r.found) found.add(id);
      // Occurrences across cuts: per transform, the end of the view so far joined to the next chunk's start.
      if (results.length > 1 && edge > 0) {
        const probes = new Set<string>();
        for (let f = 0; f < TRANSFORMS.length; f++) {
          let carry = "";
          for (let i = 0; i < results.length; i++) {
            const e = results[i]!.edges[f]!;
            const head = typeof e === "string" ? e : e[0];
            if (i > 0) probes.add(carry + head);
            const whole = typeof e === "string" ? carry + e : e[1];
            carry = whole.length > edge ? whole.slice(whole.length - edge) : whole;
          }
        }
        for (const p of probes) search(p, found);
      }
      return [...found];
    },
    stats: () => ({ ...counters, entries: cache.size }),
  };
}

/**
 * A copy of `s` that does not keep the string it was sliced from alive (V8 slices reference
 * their parent): cache entries must hold their edges, not whole decoded chunks.
 */
function detach(s: string): string {
  return Buffer.from(s, "utf16le").toString("utf16le");
}

/** [start, end) chunks of `bytes`, cut before each `{"type":` / `{"role":` at least MIN_CHUNK after the previous cut. */
function cuts(bytes: Buffer, minChunk: number): Array<[number, number]> {
  const at: number[] = [];
  for (const m of CUT_MARKERS) for (let i = bytes.indexOf(m); i !== -1; i = bytes.indexOf(m, i + 1)) at.push(i);
  at.sort((x, y) => x - y);
  const out: Array<[number, number]> = [];
  let last = 0;
  for (const c of at) {
    if (c - last >= minChunk) {
      out.push([last, c]);
      last = c;
    }
  }
  out.push([last, bytes.length]);
  return out;
}
