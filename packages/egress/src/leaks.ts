/**
 * Exact-value leak detection: every known secret value is searched for raw and in the
 * encodings an agent could use to smuggle it out (base64 and base64url at every byte
 * alignment, hex in both cases, URL/form encoding, fully percent-encoded).
 */
export interface LeakDetector {
  /** Secret ids whose value (in any encoding) occurs in `text`. */
  findInText(text: string): string[];
  /** Secret ids whose value occurs in a (lower-cased) host name, compared case-insensitively. */
  findInHost(host: string): string[];
  /** Secret ids whose value (in any encoding) occurs in `body`. */
  findInBuffer(body: Buffer): string[];
  /** `text` with every known secret form replaced by `[secret:<id>]` (for audit lines). */
  redact(text: string): string;
}

interface Needle {
  secret: string;
  text: string;
  lower: string;
  bytes: Buffer;
}

/** Values shorter than this are searched raw only; encoded forms would match by chance. */
const MIN_ENCODED_LENGTH = 6;

export function createLeakDetector(secrets: Readonly<Record<string, string>>): LeakDetector {
  const needles: Needle[] = [];
  for (const [id, value] of Object.entries(secrets)) {
    if (value.length === 0) continue;
    const forms = new Set<string>([value]);
    if (value.length >= MIN_ENCODED_LENGTH) for (const f of encodedForms(value)) forms.add(f);
    for (const text of forms) needles.push({ secret: id, text, lower: text.toLowerCase(), bytes: Buffer.from(text, "latin1") });
  }
  // Longest first so a cheap early exit per secret stays correct.
  needles.sort((a, b) => b.text.length - a.text.length);

  return {
    findInText(text) {
      const found = new Set<string>();
      if (needles.length === 0) return [];
      const decoded = safeDecode(text);
      for (const n of needles) {
        if (found.has(n.secret)) continue;
        if (text.includes(n.text) || (decoded !== text && decoded.includes(n.text))) found.add(n.secret);
      }
      return [...found];
    },
    redact(text) {
      let out = text;
      for (const n of needles) if (out.includes(n.text)) out = out.split(n.text).join(`[secret:${n.secret}]`);
      return out;
    },
    findInHost(host) {
      const found = new Set<string>();
      const h = host.toLowerCase();
      for (const n of needles) if (!found.has(n.secret) && h.includes(n.lower)) found.add(n.secret);
      return [...found];
    },
    findInBuffer(body) {
      const found = new Set<string>();
      if (needles.length === 0 || body.length === 0) return [];
      for (const n of needles) {
        if (found.has(n.secret)) continue;
        if (body.indexOf(n.bytes) !== -1) found.add(n.secret);
      }
      return [...found];
    },
  };
}

export function encodedForms(value: string): string[] {
  const raw = Buffer.from(value, "utf8");
  const forms: string[] = [];
  for (const b64 of alignedBase64(raw)) {
    forms.push(b64, b64.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  const hex = raw.toString("hex");
  forms.push(hex, hex.toUpperCase());
  const uri = encodeURIComponent(value);
  forms.push(uri, uri.replace(/%20/g, "+"), uri.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  const allPercent = [...raw].map((b) => "%" + b.toString(16).padStart(2, "0")).join("");
  forms.push(allPercent, allPercent.toUpperCase());
  return forms.filter((f) => f.length > 0 && f !== value);
}

/**
 * The part of base64(x + value + y) that depends only on `value`, for each of the three
 * alignments of `value` inside a longer byte string.
 */
function alignedBase64(raw: Buffer): string[] {
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const buf = Buffer.concat([Buffer.alloc(k), raw]);
    const enc = buf.toString("base64").replace(/=+$/, "");
    const start = k === 0 ? 0 : k + 1;
    const n = buf.length;
    const end = Math.floor(n / 3) * 4 + (n % 3);
    const part = enc.slice(start, end);
    if (part.length >= 4) out.push(part);
  }
  // The whole, padded encoding too (the common case: value encoded on its own).
  out.push(raw.toString("base64"));
  return out;
}

function safeDecode(text: string): string {
  if (!text.includes("%") && !text.includes("+")) return text;
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}
