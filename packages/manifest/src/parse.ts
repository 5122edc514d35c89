import { BottleError } from "@bottle/errors";
import type { z } from "zod";
import { describeJsonSyntaxError, findJsonSyntaxError } from "./json-syntax.js";
import { ManifestSchema, type Manifest } from "./schema.js";

export interface ManifestProblem {
  /** JSON path, e.g. `bottles.implementer.egress.routes[0].host`. */
  path: string;
  message: string;
  hint?: string;
}

/** Thrown by parseManifest: one error carrying every problem found. */
export class ManifestError extends BottleError {
  readonly problems: ManifestProblem[];
  readonly file: string;

  constructor(file: string, problems: ManifestProblem[]) {
    const lines = problems.map((p) => `  ${p.path || "(top level)"}: ${p.message}${p.hint ? `\n    hint: ${p.hint}` : ""}`);
    super(`${file} has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${lines.join("\n")}`, {
      code: "MANIFEST_INVALID",
      hint: "Fix the problems above; `bottle schema` prints the JSON Schema for editor completion.",
      details: { file, problems },
    });
    this.problems = problems;
    this.file = file;
  }
}

export interface ParseManifestOptions {
  /** Name used in messages, usually the manifest's path. */
  file?: string;
}

/** Parses and validates bottle.json text. Throws a ManifestError listing every problem. */
export function parseManifest(text: string, options: ParseManifestOptions = {}): Manifest {
  const file = options.file ?? "bottle.json";
  // Editors on some systems save a byte-order mark; it is not part of the JSON.
  const source = text.startsWith("\uFEFF") ? text.slice(1) : text;
  let raw: unknown;
  try {
    raw = JSON.parse(source);
  } catch {
    throw new ManifestError(file, [jsonSyntaxProblem(source)]);
  }
  // Checked first: zod (like any plain object) would turn a "__proto__" key into a
  // prototype and silently drop what is under it.
  const prototypeKeys = prototypeKeyProblems(raw);
  const result = ManifestSchema.safeParse(raw);
  const problems: ManifestProblem[] = [...prototypeKeys, ...(result.success ? [] : result.error.issues.flatMap((issue) => describeIssue(issue, raw)))];
  problems.push(...semanticProblems(raw));
  if (problems.length > 0 || !result.success) throw new ManifestError(file, dedupe(problems));
  return result.data;
}

function jsonSyntaxProblem(text: string): ManifestProblem {
  const error = findJsonSyntaxError(text);
  return {
    path: "",
    // Never a slice of the text: a manifest may hold a secret pasted by mistake.
    message: error ? describeJsonSyntaxError(error) : "invalid JSON",
    hint: "bottle.json is strict JSON: double-quoted keys, no trailing commas, no comments.",
  };
}

/** Keys JavaScript objects treat as their prototype: refused wherever they appear. */
const PROTOTYPE_KEYS = new Set(["__proto__"]);

function prototypeKeyProblems(raw: unknown): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const stack: Array<{ value: unknown; path: PropertyKey[] }> = [{ value: raw, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (Array.isArray(value)) value.forEach((item, i) => stack.push({ value: item, path: [...path, i] }));
    else if (isRecord(value)) {
      for (const key of Object.keys(value)) {
        if (PROTOTYPE_KEYS.has(key)) {
          problems.push({
            path: formatPath([...path, key]),
            message: `the key "${key}" is not allowed`,
            hint: "it names the prototype of JavaScript objects and would be dropped silently; rename it",
          });
        } else stack.push({ value: value[key], path: [...path, key] });
      }
    }
  }
  return problems.reverse();
}

type Issue = z.core.$ZodIssue;

/** `a.b[0].c`; keys that are not plain words are quoted: `a[""]`, `env["x y"]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z0-9_$-]+$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function describeIssue(issue: Issue, raw: unknown): ManifestProblem[] {
  const path = formatPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    const known = knownKeysAt(issue.path);
    return issue.keys.map((key) => {
      const guess = closest(key, known);
      return {
        path: formatPath([...issue.path, key]),
        message: `unknown key ${JSON.stringify(key)}`,
        hint: guess ? `did you mean "${guess}"?` : known.length ? `allowed keys: ${known.join(", ")}` : undefined,
      };
    });
  }
  if (issue.code === "invalid_key") {
    const inner = issue.issues.map((i) => i.message).join("; ");
    return [{ path, message: `invalid key: ${inner || "not allowed here"}` }];
  }
  if (issue.code === "invalid_union" && isSecretRefPath(issue.path)) {
    return [secretRefProblem(path, valueAt(raw, issue.path))];
  }
  if (issue.path.at(-2) === "inject" && typeof valueAt(raw, issue.path) === "string") return []; // reported by semanticProblems
  if (issue.code === "invalid_type" && valueAt(raw, issue.path) === undefined) {
    return [{ path, message: `missing required value (${issue.expected})` }];
  }
  return [{ path, message: issue.message, hint: hintFor(issue) }];
}

function hintFor(issue: Issue): string | undefined {
  if (issue.code === "invalid_value") return `one of: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  if ((issue.code === "invalid_format" || issue.code === "custom") && issue.path.at(-1) === "host") return "use a host name without scheme or port; put ports in `ports`";
  return undefined;
}

const SECRET_REF_HINT = 'refer to the secret, never paste it: {"env": "NAME"} or {"file": "/path/to/secret"}';

function isSecretRefPath(path: ReadonlyArray<PropertyKey>): boolean {
  return path.at(-1) === "credential";
}

function secretRefProblem(path: string, value: unknown): ManifestProblem {
  if (typeof value === "string") {
    return { path, message: looksLikeSecret(value) ? "looks like a literal secret" : "must be a secret reference, not a string", hint: SECRET_REF_HINT };
  }
  return { path, message: "must be a secret reference with exactly one of `env` or `file`", hint: SECRET_REF_HINT };
}

const KNOWN_SECRET_PREFIX = /^(sk-|ghp_|gho_|ghs_|ghu_|github_pat_|xox[abp]-|AKIA[0-9A-Z]{12}|glpat-|-----BEGIN)/;

/** Values with a well-known credential prefix (no entropy guessing: few false positives). */
export function looksLikeKnownSecretFormat(value: string): boolean {
  return KNOWN_SECRET_PREFIX.test(value);
}

/** Heuristic for values that are secrets pasted inline (long, high-entropy, or a known prefix). */
export function looksLikeSecret(value: string): boolean {
  if (looksLikeKnownSecretFormat(value)) return true;
  if (value.length < 20 || /\s/.test(value)) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((re) => re.test(value)).length;
  return classes >= 3 && !value.includes("/");
}

function semanticProblems(raw: unknown): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const bottles = (raw as { bottles?: unknown })?.bottles;
  if (!isRecord(bottles)) return problems;
  for (const [name, bottle] of Object.entries(bottles)) {
    if (!isRecord(bottle)) continue;
    const at = (...rest: PropertyKey[]) => formatPath(["bottles", name, ...rest]);
    const routes = (bottle.egress as { routes?: unknown } | undefined)?.routes;
    if (Array.isArray(routes)) {
      routes.forEach((route, i) => {
        if (!isRecord(route)) return;
        if (route.passthrough === true && isRecord(route.inject) && Object.keys(route.inject).length > 0) {
          problems.push({
            path: at("egress", "routes", i, "passthrough"),
            message: "a passthrough route cannot inject headers (egress does not see inside the tunnel)",
            hint: "drop `passthrough` to let egress inject, or drop `inject`",
          });
        }
        if (!isRecord(route.inject)) return;
        for (const [header, inj] of Object.entries(route.inject)) {
          const p = at("egress", "routes", i, "inject", header);
          if (typeof inj === "string") {
            problems.push({ path: p, message: looksLikeSecret(inj) ? "looks like a literal secret" : "must be a secret reference, not a string", hint: SECRET_REF_HINT });
          } else if (isRecord(inj) && (("env" in inj) === ("file" in inj))) {
            problems.push({ path: p, message: "needs exactly one of `env` or `file`", hint: SECRET_REF_HINT });
          }
        }
      });
    }
    problems.push(...modelProblems(at(), bottle));
    const upstreams = (bottle.git as { upstreams?: unknown } | undefined)?.upstreams;
    if (Array.isArray(upstreams)) {
      const seen = new Map<string, number>();
      upstreams.forEach((up, i) => {
        if (!isRecord(up)) return;
        const p = (...rest: PropertyKey[]) => at("git", "upstreams", i, ...rest);
        if (typeof up.url === "string" && isSshUrl(up.url) && (typeof up.knownHostKey !== "string" || up.knownHostKey.trim() === "")) {
          problems.push({
            path: p("knownHostKey"),
            message: "an ssh upstream needs a pinned host key (there is no trust on first use)",
            hint: `add the host's known_hosts line, e.g. from \`ssh-keyscan ${sshHost(up.url)}\` checked against the provider's published fingerprints`,
          });
        }
        if (typeof up.url === "string" && /^https?:\/\/[^/]*@/.test(up.url)) {
          problems.push({ path: p("url"), message: "credentials in the URL", hint: "remove user:token@ from the URL and use `credential`" });
        }
        if (typeof up.name === "string") {
          if (seen.has(up.name)) problems.push({ path: p("name"), message: `duplicate upstream name "${up.name}" (also upstreams[${seen.get(up.name)}])` });
          seen.set(up.name, i);
        }
      });
    }
  }
  return problems;
}

/** Variables Claude Code reads for the model; with a `model` section bottle sets them itself. */
export const MODEL_ENV_KEYS = ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_BASE_URL"] as const;

const MODEL_HINT =
  'give Claude Code its credential with the bottle\'s `model` section, e.g. "model": {"auth": "api-key", "credential": {"env": "ANTHROPIC_API_KEY"}}: the agent gets a placeholder and egress injects the real value';

function modelProblems(base: string, bottle: Record<string, unknown>): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const model = isRecord(bottle.model) ? bottle.model : undefined;
  const agentEnv = (bottle.agent as { env?: unknown } | undefined)?.env;
  if (isRecord(agentEnv)) {
    for (const [key, value] of Object.entries(agentEnv)) {
      const path = `${base}.agent.env.${key}`;
      if (model && (MODEL_ENV_KEYS as readonly string[]).includes(key)) {
        problems.push({ path, message: `${key} is set by the \`model\` section (the agent gets a placeholder)`, hint: `remove ${key} from agent.env; the real credential goes in model.credential` });
      } else if (typeof value === "string" && looksLikeKnownSecretFormat(value)) {
        const forModel = (MODEL_ENV_KEYS as readonly string[]).includes(key);
        problems.push({
          path,
          message: "looks like a literal secret; agent env is visible to the agent",
          hint: forModel ? MODEL_HINT : "inject credentials at egress instead: add the host as a route with `inject` and a secret reference",
        });
      }
    }
  }
  if (!model) return problems;
  const baseUrl = typeof model.baseUrl === "string" ? safeUrl(model.baseUrl) : undefined;
  if (baseUrl && (baseUrl.username || baseUrl.password)) {
    problems.push({ path: `${base}.model.baseUrl`, message: "credentials in the URL", hint: "remove user:password@ from the URL; the credential goes in model.credential" });
  }
  if (baseUrl && (baseUrl.search || baseUrl.hash)) {
    problems.push({ path: `${base}.model.baseUrl`, message: "a base URL takes no query or fragment", hint: "give the gateway's origin and optional path prefix only" });
  }
  const modelHost = baseUrl ? baseUrl.hostname : "api.anthropic.com";
  const routes = (bottle.egress as { routes?: unknown } | undefined)?.routes;
  if (Array.isArray(routes)) {
    routes.forEach((route, i) => {
      if (isRecord(route) && typeof route.host === "string" && route.host.toLowerCase() === modelHost) {
        problems.push({
          path: `${base}.egress.routes[${i}].host`,
          message: `${modelHost} is already routed by the \`model\` section`,
          hint: "remove this route: the model section adds the paths Claude Code needs and injects the credential",
        });
      }
    });
  }
  return problems;
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

export function isSshUrl(url: string): boolean {
  return url.startsWith("ssh://") || /^[A-Za-z0-9._-]+@[^:/]+:/.test(url);
}

function sshHost(url: string): string {
  const m = /^ssh:\/\/(?:[^@/]+@)?([^:/]+)/.exec(url) ?? /^[^@]+@([^:]+):/.exec(url);
  return m?.[1] ?? "<host>";
}

const KNOWN_KEYS: ReadonlyMap<string, string[]> = new Map(Object.entries({
  "": ["$schema", "extraCaBundle", "bottles"],
  bottle: ["description", "backend", "agent", "model", "workspace", "egress", "pipelock", "git", "supervise"],
  model: ["auth", "credential", "baseUrl"],
  agent: ["image", "command", "env", "cpus", "memory", "prompt", "skills"],
  workspace: ["path", "mode", "copyGit"],
  egress: ["routes"],
  routes: ["host", "ports", "methods", "paths", "inject", "passthrough", "scan", "onFinding"],
  inject: ["env", "file", "prefix"],
  pipelock: ["enabled", "mode", "blocklist"],
  git: ["upstreams"],
  upstreams: ["name", "url", "credential", "username", "knownHostKey", "extraHosts", "protectedBranches", "allowedRefs"],
  credential: ["env", "file"],
  supervise: ["enabled"],
}));

function knownKeysAt(path: ReadonlyArray<PropertyKey>): string[] {
  if (path.length === 0) return KNOWN_KEYS.get("")!;
  if (path.length === 2 && path[0] === "bottles") return KNOWN_KEYS.get("bottle")!;
  // inside routes[i].inject.<header> the last string key is the header name
  if (path.length >= 2 && path.at(-2) === "inject") return KNOWN_KEYS.get("inject")!;
  const named = [...path].reverse().find((k): k is string => typeof k === "string" && k !== "" && KNOWN_KEYS.has(k));
  return named ? KNOWN_KEYS.get(named)! : [];
}

/** Closest candidate by edit distance, when it is close enough to be a typo. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let cur: unknown = raw;
  for (const key of path) cur = (isRecord(cur) || Array.isArray(cur)) && Object.hasOwn(cur, key) ? (cur as Record<PropertyKey, unknown>)[key] : undefined;
  return cur;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function dedupe(problems: ManifestProblem[]): ManifestProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
