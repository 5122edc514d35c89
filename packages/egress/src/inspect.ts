import { isUtf8 } from "node:buffer";
import { encodedForms, type LeakDetector } from "./leaks.js";
import { applyRedactions, findingLabel, secretRegions, type RedactionCount, type RedactionRegion } from "./redact.js";
import type { EgressRoutePlan } from "./routes.js";
import { scanForSecrets, urlWorthScanning, type PatternFinding } from "./scan.js";

/** Pattern scan of a request body's text; the cache in scan-cache.ts plugs in here. */
export type BodyScanner = (text: string, limitChars: number) => Promise<PatternFinding[]>;

export interface InspectRequest {
  route: Pick<EgressRoutePlan, "scan" | "onFinding">;
  /** Path with query, as it would be sent upstream. */
  path: string;
  body: Buffer;
  secrets: Readonly<Record<string, string>>;
  detector: LeakDetector;
  /** Secrets the route itself injects: on a blocking route the agent may carry them. */
  allowedSecrets: ReadonlySet<string>;
  /** Characters of the body given to the pattern scanner. */
  scanLimit: number;
  scanBody?: BodyScanner;
}

export type Inspection =
  | { verdict: "forward"; path: string; body: Buffer; redactions: RedactionCount[] }
  | { verdict: "block-leak"; reason: string }
  | { verdict: "block-pattern"; reason: string };

/** Scans the head of the body (the part within the limit) in one secretlint run. */
export const scanWholeBody: BodyScanner = (text, limit) => scanForSecrets(text.length > limit ? text.slice(0, limit) : text);

/**
 * Decides what happens to a request body and URL: forward as is, forward redacted (route
 * `onFinding: "redact"`), or block. Known secret values are checked on every byte; the pattern
 * scan covers the URL and the first `scanLimit` characters of the body.
 */
export async function inspectRequest(req: InspectRequest): Promise<Inspection> {
  const scanBody = req.scanBody ?? scanWholeBody;
  if (req.route.onFinding !== "redact" || !isUtf8(req.body)) return inspectToBlock(req, scanBody);

  // Redacting route: anything found is replaced, including secrets the route injects itself.
  let path = req.path;
  const counts: RedactionCount[] = [];
  if (req.route.scan && urlWorthScanning(path)) {
    const found = await scanForSecrets(decodedPath(path));
    if (found.length > 0) {
      // Ranges are in the decoded URL; only a URL without escapes maps back one to one.
      if (path.includes("%")) return { verdict: "block-pattern", reason: found[0]!.ruleId };
      const done = applyRedactions(path, found.map(patternRegion));
      path = done.text.replace(/\[REDACTED [^\]]*\]/g, (m) => encodeURIComponent(m));
      counts.push(...done.counts);
    }
  }

  let body = req.body;
  if (body.length > 0) {
    const text = body.toString("utf8");
    const regions = secretRegions(text, needlesFor(req.secrets));
    if (req.route.scan) regions.push(...(await scanBody(text, req.scanLimit)).map(patternRegion));
    if (regions.length > 0) {
      const done = applyRedactions(text, regions);
      if (breaksJson(text, done.text)) return { verdict: "block-pattern", reason: regions.find((r) => r.kind === "pattern")?.id ?? "redaction-breaks-json" };
      body = Buffer.from(done.text, "utf8");
      counts.push(...done.counts);
    }
  }
  // A secret still visible (an encoding only the detector's normalisation sees) is never forwarded.
  const left = req.detector.findInBuffer(body)[0] ?? req.detector.findInText(path)[0];
  if (left !== undefined) return { verdict: "block-leak", reason: left };
  return { verdict: "forward", path, body, redactions: counts };
}

async function inspectToBlock(req: InspectRequest, scanBody: BodyScanner): Promise<Inspection> {
  // A redacting route that cannot redact (a body that is not UTF-8) lets no known secret through.
  const allowed = req.route.onFinding === "redact" ? new Set<string>() : req.allowedSecrets;
  const leak = req.detector.findInBuffer(req.body).find((s) => !allowed.has(s));
  if (leak !== undefined) return { verdict: "block-leak", reason: leak };
  if (req.route.scan) {
    if (urlWorthScanning(req.path)) {
      const hit = (await scanForSecrets(decodedPath(req.path)))[0];
      if (hit) return { verdict: "block-pattern", reason: hit.ruleId };
    }
    if (req.body.length > 0) {
      const hit = (await scanBody(req.body.toString("utf8"), req.scanLimit))[0];
      if (hit) return { verdict: "block-pattern", reason: hit.ruleId };
    }
  }
  return { verdict: "forward", path: req.path, body: req.body, redactions: [] };
}

function patternRegion(f: PatternFinding): RedactionRegion {
  return { start: f.start, end: f.end, kind: "pattern", id: f.ruleId, label: findingLabel(f.messageId, f.ruleId) };
}

function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Redaction must not turn a JSON body into something else (the marker itself is JSON-safe). */
function breaksJson(before: string, after: string): boolean {
  const first = before.trimStart()[0];
  if (first !== "{" && first !== "[") return false;
  if (!parses(before)) return false;
  return !parses(after);
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Minimum length for encoded forms (shorter values would match by chance); as in leaks.ts. */
const MIN_ENCODED_LENGTH = 6;
const needleCache = new WeakMap<object, Array<{ secret: string; form: string }>>();

/** Every form of every secret value that redaction replaces: raw, JSON-escaped, and the detector's encodings. */
function needlesFor(secrets: Readonly<Record<string, string>>): Array<{ secret: string; form: string }> {
  let needles = needleCache.get(secrets);
  if (needles) return needles;
  needles = [];
  for (const [secret, value] of Object.entries(secrets)) {
    if (value.length === 0) continue;
    const forms = new Set([value, JSON.stringify(value).slice(1, -1)]);
    if (value.length >= MIN_ENCODED_LENGTH) for (const f of encodedForms(value)) forms.add(f);
    for (const form of forms) needles.push({ secret, form });
  }
  // Longest first: a longer form wins the merge over a shorter one inside it.
  needles.sort((a, b) => b.form.length - a.form.length);
  needleCache.set(secrets, needles);
  return needles;
}
