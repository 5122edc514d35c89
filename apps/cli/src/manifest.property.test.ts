// Property test over generated (often hostile) manifests: `validate` never fails with
// anything but a BottleError, and whatever it accepts, `start`'s planning and renderers
// accept too. Fixed seed: a failure reproduces; raise numRuns locally to dig deeper.
import { renderCompose } from "@bottle/backend-docker";
import { renderRoutesFile, parseRoutesFile } from "@bottle/egress";
import { BottleError } from "@bottle/errors";
import { renderGitGate } from "@bottle/git-gate-render";
import { parseManifest, type Manifest } from "@bottle/manifest";
import { renderPipelockConfig } from "@bottle/pipelock";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { manifestProblems } from "./preflight.js";

const MANIFEST_PATH = "/work/project/bottle.json";
const NUM_RUNS = 10_000;

/** Object keys JavaScript treats specially, mixed into every key position. */
const HOSTILE_KEYS = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "prototype", "", " ", "a.b", "x-api-key", "Authorization", "HOME", "HTTP_PROXY"];

// Objects are built as Maps and serialised by hand: a "__proto__" entry must reach the JSON
// text as an ordinary key, which assigning it to a plain object would not do.
type Json = null | boolean | number | string | Json[] | Map<string, Json>;

function toJson(value: Json): string {
  if (value instanceof Map) return `{${[...value].map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(",")}}`;
  if (Array.isArray(value)) return `[${value.map(toJson).join(",")}]`;
  return JSON.stringify(value);
}

const key = (...common: string[]) => fc.oneof({ weight: 16, arbitrary: fc.constantFrom(...common) }, { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_KEYS) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) });

/** An object with some of the given fields (each optional), plus now and then an unknown key. */
function record(fields: Record<string, fc.Arbitrary<Json>>, required: string[] = []): fc.Arbitrary<Json> {
  const entries = Object.entries(fields).map(([k, arb]) => {
    const entry = arb.map((v): [string, Json] => [k, v]);
    // required fields are left out now and then, optional ones half the time
    return required.includes(k) ? fc.oneof({ weight: 40, arbitrary: entry }, { weight: 1, arbitrary: fc.constant(undefined) }) : fc.option(entry, { nil: undefined, freq: 2 });
  });
  const extra = fc.oneof({ weight: 40, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.tuple(key("extra", "agnt", "routes"), fc.constant(1 as Json)) });
  return fc.tuple(fc.tuple(...entries), extra).map(([picked, more]) => new Map([...picked.filter((e) => e !== undefined), ...(more ? [more] : [])]));
}

function dictionary(keys: fc.Arbitrary<string>, values: fc.Arbitrary<Json>, maxKeys = 3, minKeys = 0): fc.Arbitrary<Json> {
  return fc.array(fc.tuple(keys, values), { minLength: minKeys, maxLength: maxKeys }).map((pairs) => new Map(pairs));
}

const junk: fc.Arbitrary<Json> = fc.oneof(fc.constant(null), fc.boolean(), fc.integer({ min: -3, max: 70_000 }), fc.string({ maxLength: 6 }), fc.constant([] as Json[]), fc.constant(new Map() as Json));
/** Mostly one of `valid`, now and then one of `invalid`. */
const mostly = (valid: Json[], invalid: Json[]) => fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...invalid) });
const maybeJunk = <T extends Json>(arb: fc.Arbitrary<T>): fc.Arbitrary<Json> => fc.oneof({ weight: 60, arbitrary: arb }, { weight: 1, arbitrary: junk });

const host = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("api.example.com", "*.example.com", "10.0.0.1", "my_host.internal") },
  fc.constantFrom("api.example.com", "*.example.com", "1.2.3", "123", "*.4", "10.0.0.1", "::1", "*.::1", "my_host.internal", "UPPER.Example.COM", "x.com:443", "https://x.com", "", "*", "localhost", `${"a".repeat(63)}.com`, `${"a".repeat(64)}.com`, `${"ab.".repeat(84)}com`, `${"a.".repeat(126)}com`),
  fc.domain(),
  fc.string({ maxLength: 12 }),
);
const envName = key("API_KEY", "TOKEN", "A_B");
const secretRef = fc.oneof(
  record({ env: maybeJunk(envName) }),
  record({ file: maybeJunk(fc.constantFrom("/run/secret", "relative/key", "~/key", "")) }),
  fc.constantFrom<Json>("sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "plain"),
);
const injection = fc.oneof(
  { weight: 4, arbitrary: record({ env: maybeJunk(envName), prefix: maybeJunk(fc.constantFrom("Bearer ", "", "a\nb")) }, ["env"]) },
  { weight: 1, arbitrary: record({ env: maybeJunk(envName), file: maybeJunk(fc.constantFrom("/k", "rel/k", "")), prefix: maybeJunk(fc.constantFrom("Bearer ", "")) }) },
  { weight: 1, arbitrary: junk },
);
const route = record({
  host: maybeJunk(host),
  ports: maybeJunk(fc.array(fc.integer({ min: -1, max: 70_000 }), { maxLength: 3 })),
  methods: maybeJunk(fc.array(mostly(["GET", "POST"], ["get", "BREW"]), { maxLength: 3 })),
  paths: maybeJunk(fc.array(mostly(["/v1", "/", "/a b"], ["v1"]), { maxLength: 2 })),
  inject: maybeJunk(dictionary(key("authorization", "x-api-key", "X-Api-Key", "bad header"), injection)),
  passthrough: maybeJunk(fc.boolean()),
  scan: maybeJunk(fc.boolean()),
  onFinding: maybeJunk(mostly(["block", "redact"], ["drop"])),
}, ["host"]);
const upstream = record({
  name: maybeJunk(mostly(["app", "lib", "a..b"], ["App", "-x", ".git", "constructor", "__proto__"])),
  url: maybeJunk(fc.constantFrom("https://github.com/o/r.git", "https://x.test/r", "git://x.com/r", "ssh://git@github.com/o/r.git", "git@github.com:o/r.git", "https://u:t@x.com/r.git", "file:///etc", "", "ssh://h:22/r")),
  credential: maybeJunk(secretRef),
  username: maybeJunk(fc.constantFrom("x-access-token", "", "a b")),
  knownHostKey: maybeJunk(fc.constantFrom("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", "", " ")),
  extraHosts: maybeJunk(dictionary(key("github.com", "x.test", "bad host", "*.x.com", "10.0.0.1"), fc.constantFrom<Json>("10.0.0.1", "10.0.0.2", "::1", "nope", 3))),
  protectedBranches: maybeJunk(fc.array(fc.constantFrom("main", "", "a b"), { maxLength: 2 })),
  allowedRefs: maybeJunk(fc.array(fc.constantFrom("refs/heads/agent/*", "*", ""), { maxLength: 2 })),
}, ["name", "url"]);
const bottle = record({
  description: maybeJunk(fc.string({ maxLength: 5 })),
  backend: maybeJunk(mostly(["docker", "smolvm"], ["podman"])),
  agent: maybeJunk(
    record({
      image: maybeJunk(fc.constantFrom("bottle/agent:latest", "", "x y")),
      command: maybeJunk(fc.array(fc.constantFrom("claude", "bash", "", "--flag"), { minLength: 1, maxLength: 3 })),
      env: maybeJunk(dictionary(key("LOG_LEVEL", "NODE_ENV", "1BAD"), fc.constantFrom<Json>("debug", "", "x y", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"))),
      cpus: maybeJunk(fc.constantFrom(1, 2, 0.5, 0)),
      memory: maybeJunk(fc.constantFrom("4g", "512m", "1.5G", "lots")),
      prompt: maybeJunk(fc.constantFrom("prompt.md", "~/p.md", "/abs/p.md", "")),
      skills: maybeJunk(fc.array(fc.constantFrom("skills/review", "/abs/s/", "", "/"), { maxLength: 2 })),
    }),
  ),
  workspace: maybeJunk(record({ path: maybeJunk(fc.constantFrom(".", "..", "/abs", "")), mode: maybeJunk(mostly(["copy", "mount"], ["bind"])), copyGit: maybeJunk(fc.boolean()) })),
  egress: maybeJunk(record({ routes: maybeJunk(fc.array(route, { maxLength: 4 })) })),
  pipelock: maybeJunk(record({ enabled: maybeJunk(fc.boolean()), mode: maybeJunk(mostly(["strict", "balanced", "audit"], ["off"])), blocklist: maybeJunk(fc.array(fc.constantFrom("evil.com", ""), { maxLength: 2 })) })),
  git: maybeJunk(record({ upstreams: maybeJunk(fc.array(upstream, { maxLength: 3 })) })),
  supervise: maybeJunk(record({ enabled: maybeJunk(fc.boolean()) })),
});
const manifest = record({
  $schema: fc.constant("https://bottle.dev/schema/bottle.json"),
  extraCaBundle: maybeJunk(fc.constantFrom("/etc/ssl/certs/ca-certificates.crt", "ca.pem")),
  bottles: maybeJunk(dictionary(key("impl", "reviewer", "a", "x-y", "Bad"), bottle, 3, 1)),
}, ["bottles"]);
/** The manifest's JSON text, now and then damaged (cut short, or a character replaced). */
const manifestText = fc.tuple(manifest, fc.nat(), fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom("cut", ",", "}", "'", "\u0000") })).map(([m, at, damage]) => {
  const text = toJson(m);
  if (damage === undefined) return text;
  const i = at % Math.max(1, text.length);
  return damage === "cut" ? text.slice(0, i) : text.slice(0, i) + damage + text.slice(i + 1);
});

/** What `bottle validate` does: parse, then plan and render every bottle in memory. */
async function validate(text: string): Promise<Manifest | undefined> {
  let parsed: Manifest;
  try {
    parsed = parseManifest(text, { file: "bottle.json" });
  } catch (error) {
    if (BottleError.isInstance(error)) return undefined;
    throw error;
  }
  const problems = await manifestProblems(parsed, MANIFEST_PATH);
  return problems.length === 0 ? parsed : undefined;
}

describe("generated manifests (property, fixed seed)", () => {
  it(`validate throws nothing but BottleErrors, and what it accepts plans and renders (${NUM_RUNS} manifests)`, async () => {
    const counts = { accepted: 0, bottlesRendered: 0 };
    await fc.assert(
      fc.asyncProperty(manifestText, async (text) => {
        const accepted = await validate(text);
        if (!accepted) return;
        counts.accepted += 1;
        const { bottleProblems } = await import("./preflight.js");
        for (const name of Object.keys(accepted.bottles)) {
          const { plan, problems } = await bottleProblems(accepted, name, { manifestPath: MANIFEST_PATH });
          expect(problems).toEqual([]);
          parseRoutesFile(renderRoutesFile(plan!));
          if (plan!.git.upstreams.length > 0) renderGitGate(plan!);
          if (plan!.pipelock.enabled) renderPipelockConfig(plan!, { internalCidr: "172.30.4.0/24", secretsFile: "/run/bottle/secrets/p.txt", caCert: "/etc/bottle/ca/ca.crt", caKey: "/etc/bottle/ca/ca.key" });
          if (plan!.backend === "docker") renderCompose(plan!, { stateDir: "/tmp/state", homeDir: "/home/u" });
          counts.bottlesRendered += 1;
        }
      }),
      { seed: 12_345, numRuns: NUM_RUNS },
    );
    // The generator must reach the renderers often, or the second half of the property is idle.
    expect(counts.accepted).toBeGreaterThan(NUM_RUNS / 20);
    expect(counts.bottlesRendered).toBeGreaterThan(NUM_RUNS / 20);
  }, 300_000);
});
