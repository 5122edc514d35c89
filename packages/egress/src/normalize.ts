import zlib from "node:zlib";

/**
 * What the receiver of a request will see, as text: the transformations a server (or the
 * agent's own code at the other end) undoes before it reads a value. Leak detection and the
 * pattern scan look at every view, so an encoding the receiver decodes cannot hide a value.
 *
 * Covered, each alone and chained (percent inside JSON, JSON inside percent, …):
 * - percent-decoding, one escape at a time (a malformed `%` elsewhere changes nothing),
 *   hex digits in any case, with and without `+` as space;
 * - JSON string escapes (`\uXXXX` incl. surrogate pairs, `\n`, `\/`, …);
 * - whitespace and line breaks removed (base64 wrapped at 76 columns, split hex);
 * - hex in any case (the lower-cased view is searched for the hex forms);
 * - bodies: `Content-Encoding` (gzip, x-gzip, deflate, br; chained), bounded; the declared
 *   `charset` (utf-16le/be, latin1, …) and UTF-16 with a BOM.
 * Out of scope (an attacker's own scheme the receiver must undo with his code): reversed
 * text, double base64, values split across requests.
 */

export type BodyRefusal = "too-large-to-inspect" | "unknown-content-encoding" | "corrupt-content-encoding";

export interface DecodedBody {
  /** Bytes after Content-Encoding was undone. */
  bytes: Buffer;
  /** The bytes as text in the declared (or detected) charset. */
  text: string;
  /** `text` is the UTF-8 reading of `bytes` (no other charset declared or detected). */
  utf8: boolean;
}

/** The views of a text a receiver may see; the first is `text` itself. */
export function textViews(text: string): string[] {
  const views = new Set<string>([text]);
  let frontier = [text];
  // Two rounds reach percent-in-JSON and JSON-in-percent; more would only feed an attacker's own scheme.
  for (let round = 0; round < 2 && frontier.length > 0; round++) {
    const next: string[] = [];
    for (const view of frontier) {
      for (const decoded of decodings(view)) {
        if (!views.has(decoded)) {
          views.add(decoded);
          next.push(decoded);
        }
      }
    }
    frontier = next;
  }
  for (const view of [...views]) {
    if (/\s/.test(view)) views.add(view.replace(WHITESPACE_RUNS, ""));
  }
  return [...views];
}

function decodings(text: string): string[] {
  const out: string[] = [];
  if (text.includes("%")) {
    out.push(percentDecode(text));
    if (text.includes("+")) out.push(percentDecode(text.replace(/\+/g, " ")));
  } else if (text.includes("+")) {
    out.push(text.replace(/\+/g, " "));
  }
  if (text.includes("\\")) out.push(jsonUnescape(text));
  return out;
}

/** Decodes each well-formed `%XX` (any case) on its own; malformed escapes stay as they are. */
export function percentDecode(text: string): string {
  if (!text.includes("%")) return text;
  const bytes: number[] = [];
  let plain = "";
  const flushPlain = () => {
    if (plain) {
      for (const b of Buffer.from(plain, "utf8")) bytes.push(b);
      plain = "";
    }
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "%" && i + 2 < text.length && isHex(text.charCodeAt(i + 1)) && isHex(text.charCodeAt(i + 2))) {
      flushPlain();
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      plain += c;
    }
  }
  flushPlain();
  return Buffer.from(bytes).toString("utf8");
}

function isHex(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 70) || (code >= 97 && code <= 102);
}

const JSON_ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/** Undoes JSON string escapes wherever they occur (the text need not be valid JSON). */
export function jsonUnescape(text: string): string {
  // A slice-and-join loop: about half the time of a replace() with a callback per escape.
  let at = text.indexOf("\\");
  if (at === -1) return text;
  const parts: string[] = [];
  let start = 0;
  while (at !== -1 && at + 1 < text.length) {
    const next = text[at + 1]!;
    if (next === "u" && isHex(text.charCodeAt(at + 2)) && isHex(text.charCodeAt(at + 3)) && isHex(text.charCodeAt(at + 4)) && isHex(text.charCodeAt(at + 5))) {
      parts.push(text.slice(start, at), String.fromCharCode(parseInt(text.slice(at + 2, at + 6), 16)));
      start = at + 6;
      at = text.indexOf("\\", start);
    } else if (JSON_ESCAPES[next] !== undefined) {
      parts.push(text.slice(start, at), JSON_ESCAPES[next]);
      start = at + 2;
      at = text.indexOf("\\", start);
    } else {
      at = text.indexOf("\\", at + 1);
    }
  }
  parts.push(text.slice(start));
  return parts.join("");
}

/** What `\s+` matches, spelled out: a character class runs faster than `\s` on large texts. */
const WHITESPACE_RUNS = /[ \t\n\r\f\v\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+/g;

/**
 * A request or response body as its receiver reads it: Content-Encoding undone (bounded:
 * more than `limit` decoded bytes is refused, never passed uninspected), then decoded as
 * text in the declared charset.
 */
export function decodeBody(body: Buffer, headers: { "content-encoding"?: string | string[] | undefined; "content-type"?: string | undefined }, limit: number): DecodedBody | BodyRefusal {
  let bytes = body;
  const encodings = headerList(headers["content-encoding"]);
  // Codings are listed in the order they were applied: undo them from the last.
  for (const coding of encodings.reverse()) {
    if (coding === "identity" || coding === "") continue;
    const decoded = inflate(bytes, coding, limit);
    if (typeof decoded === "string") return decoded;
    bytes = decoded;
  }
  return { bytes, ...readText(bytes, charsetOf(headers["content-type"])) };
}

function headerList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(",") : value;
  return joined.split(",").map((v) => v.trim().toLowerCase());
}

function inflate(bytes: Buffer, coding: string, limit: number): Buffer | BodyRefusal {
  const options = { maxOutputLength: Math.max(1, limit) };
  try {
    if (coding === "gzip" || coding === "x-gzip") return zlib.gunzipSync(bytes, options);
    if (coding === "deflate") {
      // RFC 9110 deflate is zlib-wrapped; some clients send raw deflate.
      try {
        return zlib.inflateSync(bytes, options);
      } catch (err) {
        if (tooLarge(err)) throw err;
        return zlib.inflateRawSync(bytes, options);
      }
    }
    if (coding === "br") return zlib.brotliDecompressSync(bytes, options);
  } catch (err) {
    return tooLarge(err) ? "too-large-to-inspect" : "corrupt-content-encoding";
  }
  return "unknown-content-encoding";
}

function tooLarge(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError;
}

export function charsetOf(contentType: string | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? "");
  return m?.[1]?.toLowerCase();
}

/** Bytes as text: the declared charset when it is one we know, else UTF-16 by BOM, else UTF-8. */
export function bytesToText(bytes: Buffer, charset: string | undefined): string {
  return readText(bytes, charset).text;
}

function readText(bytes: Buffer, charset: string | undefined): { text: string; utf8: boolean } {
  if (charset && charset !== "utf-8" && charset !== "utf8") {
    try {
      return { text: new TextDecoder(charset).decode(bytes), utf8: false };
    } catch {
      // Unknown label: fall through to detection.
    }
  }
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { text: new TextDecoder("utf-16le").decode(bytes), utf8: false };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { text: new TextDecoder("utf-16be").decode(bytes), utf8: false };
  const utf16 = utf16Order(bytes);
  if (utf16) return { text: new TextDecoder(utf16).decode(bytes), utf8: false };
  return { text: bytes.toString("utf8"), utf8: true };
}

/** UTF-16 without a BOM: NUL in (nearly) every other byte, as ASCII-range text has. */
function utf16Order(bytes: Buffer): "utf-16le" | "utf-16be" | undefined {
  const sample = bytes.subarray(0, 4096);
  const pairs = sample.length >> 1;
  if (pairs < 4) return undefined;
  let even = 0;
  let odd = 0;
  for (let i = 0; i + 1 < sample.length; i += 2) {
    if (sample[i] === 0) even++;
    if (sample[i + 1] === 0) odd++;
  }
  if (odd >= pairs * 0.6 && even < pairs * 0.1) return "utf-16le";
  if (even >= pairs * 0.6 && odd < pairs * 0.1) return "utf-16be";
  return undefined;
}
