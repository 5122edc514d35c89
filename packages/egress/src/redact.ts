/**
 * In-place redaction of findings in request text: each region becomes a typed marker that says
 * what was removed (never the value). Pure string work; the proxy decides when to apply it.
 */

export interface RedactionRegion {
  /** [start, end) in the text. */
  start: number;
  end: number;
  /** `pattern`: a secretlint rule fired; `secret`: the value of a secret the bottle holds. */
  kind: "pattern" | "secret";
  /** secretlint rule id or secret id (for the audit record). */
  id: string;
  /** Short readable name of what was there, e.g. `aws-secret-access-key`. */
  label: string;
}

export interface RedactionCount {
  kind: "pattern" | "secret";
  id: string;
  count: number;
}

/**
 * The marker that replaces a finding. It carries no quote or backslash (stays valid inside a
 * JSON string) and tells the model what happened, so it does not ask for the value again.
 */
export function redactionMarker(label: string): string {
  return `[REDACTED ${label}: bottle egress removed a credential here before the request left the sandbox]`;
}

/** `AWSSecretAccessKey` → `aws-secret-access-key`, `SLACK_TOKEN` → `slack-token`; falls back to the rule's name. */
export function findingLabel(messageId: string, ruleId: string): string {
  const fromMessage = kebab(messageId);
  if (fromMessage) return fromMessage;
  return kebab(ruleId.replace(/^.*secretlint-rule-/, "")) || "credential";
}

export function secretLabel(secretId: string): string {
  return `secret ${secretId.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64)}`;
}

function kebab(id: string): string {
  const words = id.match(/[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+/g) ?? [];
  return words
    .map((w) => w.toLowerCase())
    .join("-")
    .slice(0, 48);
}

/**
 * Widens [start, end) so it never cuts a JSON string escape (`\n`, `\"`, `\u00e9`): replacing
 * half an escape would leave a dangling backslash and break the JSON around it.
 */
export function widenToJsonEscapes(text: string, start: number, end: number): { start: number; end: number } {
  const s = escapeCovering(text, start);
  const e = escapeCovering(text, end);
  return { start: s ? s.at : start, end: Math.max(end, e ? e.at + e.length : end) };
}

/** The escape sequence that contains `pos` strictly after its first character, if any. */
function escapeCovering(text: string, pos: number): { at: number; length: number } | undefined {
  for (let j = pos - 1; j >= 0 && j >= pos - 5; j--) {
    if (text.charCodeAt(j) !== 0x5c || !startsEscape(text, j)) continue;
    const length = text[j + 1] === "u" ? 6 : 2;
    return j + length > pos ? { at: j, length } : undefined;
  }
  return undefined;
}

/** A backslash starts an escape when an even number of backslashes precede it. */
function startsEscape(text: string, j: number): boolean {
  let n = 0;
  for (let k = j - 1; k >= 0 && text.charCodeAt(k) === 0x5c; k--) n++;
  return n % 2 === 0;
}

/** Every occurrence of every form of every secret, as regions. */
export function secretRegions(text: string, needles: ReadonlyArray<{ secret: string; form: string }>): RedactionRegion[] {
  const out: RedactionRegion[] = [];
  for (const n of needles) {
    if (n.form.length === 0) continue;
    for (let at = text.indexOf(n.form); at !== -1; at = text.indexOf(n.form, at + 1)) {
      out.push({ start: at, end: at + n.form.length, kind: "secret", id: n.secret, label: secretLabel(n.secret) });
    }
  }
  return out;
}

/**
 * `text` with every region (widened to whole JSON escapes, overlaps merged) replaced by its
 * marker, and in how many markers each rule/secret was found.
 */
export function applyRedactions(text: string, regions: readonly RedactionRegion[]): { text: string; counts: RedactionCount[] } {
  const counts = new Map<string, RedactionCount>();
  const count = (r: RedactionRegion, seen: Set<string>) => {
    const key = `${r.kind}\0${r.id}`;
    if (seen.has(key)) return;
    seen.add(key);
    const c = counts.get(key);
    if (c) c.count++;
    else counts.set(key, { kind: r.kind, id: r.id, count: 1 });
  };
  const sorted = regions
    .map((r) => ({ ...r, ...widenToJsonEscapes(text, r.start, r.end) }))
    .sort((a, b) => a.start - b.start || b.end - a.end);
  let out = "";
  let from = 0;
  let i = 0;
  while (i < sorted.length) {
    // One marker per group of overlapping regions; each rule/secret in it counts once.
    const first = sorted[i]!;
    const inGroup = new Set<string>();
    count(first, inGroup);
    let end = first.end;
    // Patterns name the credential better than a secret id would; keep the first pattern label.
    let label = first.label;
    let labelIsPattern = first.kind === "pattern";
    for (i++; i < sorted.length && sorted[i]!.start < end; i++) {
      const r = sorted[i]!;
      end = Math.max(end, r.end);
      count(r, inGroup);
      if (!labelIsPattern && r.kind === "pattern") {
        label = r.label;
        labelIsPattern = true;
      }
    }
    const start = Math.max(first.start, from);
    out += text.slice(from, start) + redactionMarker(label);
    from = Math.max(from, end);
  }
  out += text.slice(from);
  return { text: out, counts: [...counts.values()] };
}
