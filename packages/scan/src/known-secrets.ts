/**
 * Matching of the bottle's known secret values (from secrets.json) and their encoded
 * forms. Values are compiled into one regular expression per content kind so a chunk is
 * searched in a single pass, however many secrets there are.
 */

export type KnownSecretEncoding = "raw" | "base64" | "base64url" | "hex" | "url" | "utf16";

export interface KnownSecretMatch {
  secretId: string;
  encoding: KnownSecretEncoding;
  /** Offset of the match in the searched string. */
  index: number;
}

export interface KnownSecretMatcher {
  /** Number of secret values that are matched (values shorter than the minimum are ignored). */
  readonly size: number;
  /** Matches in decoded text. */
  matchText(text: string): KnownSecretMatch[];
  /** Matches in raw bytes (binary blobs): searched byte-wise. */
  matchBytes(bytes: Buffer): KnownSecretMatch[];
}

/** Shortest value (and shortest encoded fragment) that is matched; shorter ones would flag ordinary text. */
export const MIN_KNOWN_SECRET_LENGTH = 8;

interface Variant {
  secretId: string;
  encoding: KnownSecretEncoding;
  text: string;
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Base64 of a value depends on where it starts inside the encoded stream. For each of the
 * three byte alignments keep only the characters that depend on the value alone, so the
 * value is found inside a longer base64 text (e.g. `user:token` in a Basic auth header).
 */
function base64Fragments(value: Buffer): string[] {
  const fragments: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const padded = Buffer.concat([Buffer.alloc(pad), value]);
    const encoded = padded.toString("base64");
    const start = pad === 0 ? 0 : 4;
    const end = Math.floor(padded.length / 3) * 4;
    if (end - start >= MIN_KNOWN_SECRET_LENGTH) fragments.push(encoded.slice(start, end));
  }
  return fragments;
}

function variantsOf(secretId: string, value: string): Variant[] {
  const bytes = Buffer.from(value, "utf8");
  const out: Variant[] = [{ secretId, encoding: "raw", text: value }];
  for (const fragment of base64Fragments(bytes)) {
    out.push({ secretId, encoding: "base64", text: fragment });
    const url = fragment.replace(/\+/g, "-").replace(/\//g, "_");
    if (url !== fragment) out.push({ secretId, encoding: "base64url", text: url });
  }
  const hex = bytes.toString("hex");
  out.push({ secretId, encoding: "hex", text: hex });
  if (hex.toUpperCase() !== hex) out.push({ secretId, encoding: "hex", text: hex.toUpperCase() });
  const encoded = encodeURIComponent(value);
  if (encoded !== value) {
    out.push({ secretId, encoding: "url", text: encoded });
    const form = encoded.replace(/%20/g, "+");
    if (form !== encoded) out.push({ secretId, encoding: "url", text: form });
  }
  return out;
}

function compile(variants: Variant[]): { regex: RegExp | undefined; byText: Map<string, Variant> } {
  const byText = new Map<string, Variant>();
  for (const variant of variants) if (!byText.has(variant.text)) byText.set(variant.text, variant);
  if (byText.size === 0) return { regex: undefined, byText };
  // Longest first so an alternation prefers the most specific form.
  const alternatives = [...byText.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1)).map(escapeRegExp);
  return { regex: new RegExp(alternatives.join("|"), "g"), byText };
}

function run(regex: RegExp | undefined, byText: Map<string, Variant>, haystack: string): KnownSecretMatch[] {
  if (!regex) return [];
  const found: KnownSecretMatch[] = [];
  regex.lastIndex = 0;
  for (let m = regex.exec(haystack); m !== null; m = regex.exec(haystack)) {
    const variant = byText.get(m[0]);
    if (variant) found.push({ secretId: variant.secretId, encoding: variant.encoding, index: m.index });
  }
  return found;
}

/** The UTF-16LE and UTF-16BE bytes of a text, as latin1 strings (one char per byte). */
function utf16Forms(text: string): string[] {
  const le = Buffer.from(text, "utf16le");
  const be = Buffer.from(le);
  be.swap16();
  return [le.toString("latin1"), be.toString("latin1")];
}

export function createKnownSecretMatcher(secrets: Record<string, string>): KnownSecretMatcher {
  const variants: Variant[] = [];
  let size = 0;
  for (const [id, value] of Object.entries(secrets).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (typeof value !== "string" || value.length < MIN_KNOWN_SECRET_LENGTH) continue;
    size++;
    variants.push(...variantsOf(id, value));
  }
  // UTF-16 text (LE or BE, BOM or not) holds each form as 2-byte units: searched as bytes,
  // and as the NUL-interleaved string a UTF-8 decoder makes of it.
  const utf16 = variants.flatMap((v) => utf16Forms(v.text).map((form) => ({ ...v, encoding: "utf16" as const, text: form })));
  const text = compile([...variants, ...utf16.filter((v) => !/[^\x00-\x7f]/.test(v.text))]);
  // Byte search: each variant's UTF-8 bytes read as latin1, one char per byte.
  const bytes = compile([...variants.map((v) => ({ ...v, text: Buffer.from(v.text, "utf8").toString("latin1") })), ...utf16]);
  return {
    size,
    matchText: (haystack) => run(text.regex, text.byText, haystack),
    matchBytes: (haystack) => run(bytes.regex, bytes.byText, haystack.toString("latin1")),
  };
}
