import { HOP_BY_HOP } from "./headers.js";

// What the agent gets back never echoes a credential egress injected (an upstream that
// reflects request headers, an error page quoting them).

/** Header values that contain an injected value, replaced whole. */
export function redactHeaders(rawHeaders: string[], injected: string[]): string[] {
  if (injected.length === 0) return rawHeaders;
  return rawHeaders.map((v, i) => (i % 2 === 1 && injected.some((s) => v.includes(s)) ? "[redacted by bottle egress]" : v));
}

const REDACTED = Buffer.from("[redacted by bottle egress]");

/** `body` with every injected credential value replaced; the same Buffer when there was none. */
export function redactBody(body: Buffer, injected: string[]): Buffer {
  let out = body;
  for (const value of injected) {
    const needle = Buffer.from(value);
    if (needle.length === 0 || out.indexOf(needle) === -1) continue;
    const parts: Buffer[] = [];
    let from = 0;
    for (let at = out.indexOf(needle); at !== -1; at = out.indexOf(needle, from)) {
      parts.push(out.subarray(from, at), REDACTED);
      from = at + needle.length;
    }
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}

/** Response headers for the agent: hop-by-hop ones dropped, echoes of injected values replaced. */
export function responseHeaders(rawHeaders: string[], injected: string[]): string[] {
  const out: string[] = [];
  const raw = redactHeaders(rawHeaders, injected);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}
