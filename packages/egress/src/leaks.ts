import { bytesToText, textViews } from "./normalize.js";

/**
 * Exact-value leak detection: every known secret value is searched for raw and in the
 * encodings an agent could use to smuggle it out (base64 and base64url at every byte
 * alignment, hex in any case, URL/form encoding, fully percent-encoded), in every view a
 * receiver may decode the text to (normalize.ts: percent escapes one by one, JSON escapes,
 * whitespace and line breaks removed).
 */
export interface LeakDetector {
  /** Secret ids whose value (in any encoding) occurs in `text`. */
  findInText(text: string): string[];
  /** Secret ids whose value occurs in a (lower-cased) host name, compared case-insensitively. */
  findInHost(host: string): string[];
  /** Secret ids whose value (in any encoding) occurs in `body`. */
  findInBuffer(body: Buffer): string[];
  /** Secret ids found in a decoded body (its bytes and its text). */
  findInDecoded(bytes: Buffer, text: string): string[];
  /**
   * `text` with every known secret form replaced by `[secret:<id>]` (for audit lines and
   * error texts); a text that still carries a value in a decoded view is replaced whole.
   */
  redact(text: string): string;
  /** A host name for logs and error texts: replaced whole when it carries a value (in any case). */
  redactHost(host: string): string;
}

interface Needle extends SecretForm {
  lower: string;
  bytes: Buffer;
}

/** Values shorter than this are searched raw only; encoded forms would match by chance. */
const MIN_ENCODED_LENGTH = 6;

/** One form of a secret value that leak detection searches for. */
export interface SecretForm {
  secret: string;
  text: string;
  /** Hex: matched in any case. */
  caseless: boolean;
}

/**
 * Every form of every non-empty secret value: the value, and for values of at least
 * MIN_ENCODED_LENGTH characters its encodings (encodedForms) plus `extra(value)` (e.g. the
 * JSON-escaped form redaction also replaces). The one list the detector, the cached leak
 * check and redaction share.
 */
export function secretForms(secrets: Readonly<Record<string, string>>, extra: (value: string) => string[] = () => []): SecretForm[] {
  const out: SecretForm[] = [];
  for (const [secret, value] of Object.entries(secrets)) {
    if (value.length === 0) continue;
    const forms = new Set<string>([value, ...extra(value)]);
    const encoded = value.length >= MIN_ENCODED_LENGTH;
    if (encoded) for (const f of encodedForms(value)) forms.add(f);
    const hex = Buffer.from(value, "utf8").toString("hex");
    for (const text of forms) out.push({ secret, text, caseless: encoded && text.toLowerCase() === hex });
  }
  return out;
}

export function createLeakDetector(secrets: Readonly<Record<string, string>>): LeakDetector {
  const needles: Needle[] = secretForms(secrets).map((f) => ({ ...f, lower: f.text.toLowerCase(), bytes: Buffer.from(f.text, "latin1") }));
  // Longest first so a cheap early exit per secret stays correct.
  needles.sort((a, b) => b.text.length - a.text.length);

  const matchView = (view: string, found: Set<string>): void => {
    let lower: string | undefined;
    for (const n of needles) {
      if (found.has(n.secret)) continue;
      if (view.includes(n.text)) found.add(n.secret);
      else if (n.caseless && (lower ??= view.toLowerCase()).includes(n.lower)) found.add(n.secret);
    }
  };
  const findInText = (text: string): string[] => {
    if (needles.length === 0 || text.length === 0) return [];
    const found = new Set<string>();
    for (const view of textViews(text)) matchView(view, found);
    return [...found];
  };

  return {
    findInText,
    findInDecoded(bytes, text) {
      const found = new Set<string>();
      if (needles.length === 0 || bytes.length === 0) return [];
      for (const n of needles) if (!found.has(n.secret) && bytes.indexOf(n.bytes) !== -1) found.add(n.secret);
      for (const id of findInText(text)) found.add(id);
      return [...found];
    },
    redact(text) {
      let out = text;
      for (const n of needles) if (out.includes(n.text)) out = out.split(n.text).join(`[secret:${n.secret}]`);
      const hidden = findInText(out);
      return hidden.length === 0 ? out : `[redacted: carries secret ${hidden.sort().join(", ")}]`;
    },
    redactHost(host) {
      const ids = this.findInHost(host);
      return ids.length > 0 ? `[redacted: carries secret ${ids.sort().join(", ")}]` : this.redact(host);
    },
    findInHost(host) {
      const found = new Set<string>();
      const h = host.toLowerCase();
      for (const n of needles) if (!found.has(n.secret) && h.includes(n.lower)) found.add(n.secret);
      return [...found];
    },
    findInBuffer(body) {
      return this.findInDecoded(body, bytesToText(body, undefined));
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

