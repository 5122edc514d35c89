import { isUtf8 } from "node:buffer";
import { secretForms, type LeakDetector } from "./leaks.js";
import { percentDecode, type DecodedBody } from "./normalize.js";
import { applyRedactions, findingLabel, secretRegions, type RedactionCount, type RedactionRegion } from "./redact.js";
import type { EgressRoutePlan } from "./routes.js";
import { scanForSecrets, urlWorthScanning } from "./scan.js";
import { createChunkedScanner, type BodyFinding } from "./scan-cache.js";
import { createLeakCheck, type LeakCheck } from "./leak-cache.js";

/** Pattern scan of the first `limit` bytes of a body; findings with byte ranges (scan-cache.ts). */
export type BodyScanner = (body: Buffer, limit: number) => Promise<BodyFinding[]>;

export interface InspectRequest {
  route: Pick<EgressRoutePlan, "scan" | "onFinding">;
  /** Path with query, as it would be sent upstream. */
  path: string;
  body: Buffer;
  secrets: Readonly<Record<string, string>>;
  detector: LeakDetector;
  /** Secrets the route itself injects: on a blocking route the agent may carry them. */
  allowedSecrets: ReadonlySet<string>;
  /** Bytes of the body given to the pattern scanner. */
  scanLimit: number;
  /** Default: one process-wide chunked scanner with its cache. */
  scanBody?: BodyScanner;
  /** The body as its receiver reads it (Content-Encoding undone, charset applied); default: `body` as UTF-8. */
  decoded?: DecodedBody;
}

export type Inspection =
  | { verdict: "forward"; path: string; body: Buffer; redactions: RedactionCount[] }
  | { verdict: "block-leak"; reason: string }
  | { verdict: "block-pattern"; reason: string };

const leakChecks = new WeakMap<object, LeakCheck>();
/** One cached exact-value check per set of secrets (a reload brings a new set and a new cache). */
function leakCheckFor(secrets: Readonly<Record<string, string>>): LeakCheck {
  let check = leakChecks.get(secrets);
  if (!check) leakChecks.set(secrets, (check = createLeakCheck(secrets)));
  return check;
}

let defaultScanner: BodyScanner | undefined;
function processScanner(): BodyScanner {
  if (!defaultScanner) {
    const scanner = createChunkedScanner();
    defaultScanner = (body, limit) => scanner.scan(body, limit);
  }
  return defaultScanner;
}

/**
 * Decides what happens to a request body and URL: forward as is, forward redacted (route
 * `onFinding: "redact"`), or block. Known secret values are checked on every byte; the pattern
 * scan covers the URL and the first `scanLimit` bytes of the body.
 */
export async function inspectRequest(req: InspectRequest): Promise<Inspection> {
  const scanBody = req.scanBody ?? processScanner();
  const decoded = req.decoded ?? { bytes: req.body, text: req.body.toString("utf8"), utf8: true };
  // Redaction rewrites the bytes the agent sent; an encoded body (compressed, another charset) is
  // inspected in its decoded form and blocked instead.
  const plain = decoded.bytes === req.body && decoded.utf8 && isUtf8(req.body);
  if (req.route.onFinding !== "redact" || !plain) return inspectToBlock(req, decoded, scanBody);

  // Redacting route: anything found is replaced, including secrets the route injects itself.
  let path = req.path;
  const counts: RedactionCount[] = [];
  const url = percentDecode(path);
  if (req.route.scan && (urlWorthScanning(path) || urlWorthScanning(url))) {
    const found = await scanForSecrets(url);
    if (found.length > 0) {
      // Ranges are in the decoded URL; only a URL without escapes maps back one to one.
      if (path.includes("%")) return { verdict: "block-pattern", reason: found[0]!.ruleId };
      const done = applyRedactions(path, found.map((f) => patternRegion(f, f.start, f.end)));
      path = done.text.replace(/\[REDACTED [^\]]*\]/g, (m) => encodeURIComponent(m));
      counts.push(...done.counts);
    }
  }

  let body = req.body;
  let leaks: string[] = [];
  if (body.length > 0) {
    const patterns = req.route.scan ? await scanBody(body, req.scanLimit) : [];
    const needles = needlesFor(req.secrets);
    // Same answer as detector.findInDecoded, at the cost of what is new (leak-cache.ts).
    leaks = leakCheckFor(req.secrets).find(body);
    // Markers are only worked out when there is something to replace (the common case has nothing).
    if (patterns.length > 0 || needles.extraForms || leaks.length > 0) {
      const text = decoded.text;
      const regions = secretRegions(text, needles.all);
      const chars = charOffsets(body, patterns.flatMap((f) => [f.start, f.end]));
      for (const f of patterns) regions.push(patternRegion(f, chars.get(f.start)!, chars.get(f.end)!));
      if (regions.length > 0) {
        const done = applyRedactions(text, regions);
        if (breaksJson(text, done.text)) return { verdict: "block-pattern", reason: patterns[0]?.ruleId ?? "redaction-breaks-json" };
        body = Buffer.from(done.text, "utf8");
        counts.push(...done.counts);
        leaks = req.detector.findInDecoded(body, done.text);
      }
    }
  }
  // A secret still visible (an encoding only the detector's normalisation sees) is never forwarded.
  const left = leaks[0] ?? req.detector.findInText(path)[0];
  if (left !== undefined) return { verdict: "block-leak", reason: left };
  return { verdict: "forward", path, body, redactions: counts };
}

async function inspectToBlock(req: InspectRequest, decoded: DecodedBody, scanBody: BodyScanner): Promise<Inspection> {
  // A redacting route that cannot redact (a body that is not UTF-8) lets no known secret through.
  const allowed = req.route.onFinding === "redact" ? new Set<string>() : req.allowedSecrets;
  const raw = decoded.bytes === req.body ? [] : req.detector.findInBuffer(req.body);
  // A plain UTF-8 body goes through the cached check (same answer, cost of what is new).
  const plain = decoded.bytes === req.body && decoded.utf8 && isUtf8(req.body);
  const found = plain ? leakCheckFor(req.secrets).find(req.body) : req.detector.findInDecoded(decoded.bytes, decoded.text);
  const leak = [...raw, ...found].find((s) => !allowed.has(s));
  if (leak !== undefined) return { verdict: "block-leak", reason: leak };
  if (req.route.scan) {
    // The URL as the receiver decodes it: a token hidden behind percent escapes is scanned too.
    const url = percentDecode(req.path);
    if (urlWorthScanning(url) || urlWorthScanning(req.path)) {
      const hit = (await scanForSecrets(url === req.path ? url : `${req.path}\n${url}`))[0];
      if (hit) return { verdict: "block-pattern", reason: hit.ruleId };
    }
    if (decoded.bytes.length > 0) {
      const hit = (await scanBody(decoded.utf8 ? decoded.bytes : Buffer.from(decoded.text, "utf8"), req.scanLimit))[0];
      if (hit) return { verdict: "block-pattern", reason: hit.ruleId };
    }
  }
  return { verdict: "forward", path: req.path, body: req.body, redactions: [] };
}

function patternRegion(f: { ruleId: string; messageId: string }, start: number, end: number): RedactionRegion {
  return { start, end, kind: "pattern", id: f.ruleId, label: findingLabel(f.messageId, f.ruleId) };
}

/** String offsets of byte offsets (all on character starts) of a UTF-8 body. */
function charOffsets(body: Buffer, byteOffsets: number[]): Map<number, number> {
  const out = new Map<number, number>();
  let bytes = 0;
  let chars = 0;
  for (const at of [...new Set(byteOffsets)].sort((x, y) => x - y)) {
    chars += body.toString("utf8", bytes, at).length;
    bytes = at;
    out.set(at, chars);
  }
  return out;
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

interface Needles {
  all: Array<{ secret: string; form: string }>;
  /** Some form (JSON-escaped) is not one the leak detector looks for: search the text every time. */
  extraForms: boolean;
}
const needleCache = new WeakMap<object, Needles>();

/** Every form of every secret value that redaction replaces: raw, JSON-escaped, and the detector's encodings. */
function needlesFor(secrets: Readonly<Record<string, string>>): Needles {
  let needles = needleCache.get(secrets);
  if (needles) return needles;
  const jsonEscaped = (value: string) => [JSON.stringify(value).slice(1, -1)];
  needles = { all: [], extraForms: Object.values(secrets).some((v) => v.length > 0 && jsonEscaped(v)[0] !== v) };
  for (const { secret, text } of secretForms(secrets, jsonEscaped)) needles.all.push({ secret, form: text });
  // Longest first: a longer form wins the merge over a shorter one inside it.
  needles.all.sort((a, b) => b.form.length - a.form.length);
  needleCache.set(secrets, needles);
  return needles;
}
