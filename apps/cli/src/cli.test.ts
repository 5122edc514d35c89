import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./index.js";
import { capture } from "./__fixtures__/capture.js";

const require = createRequire(import.meta.url);
const example = readFileSync(require.resolve("@bottle/manifest/bottle.example.json"), "utf8");

function manifestFile(text: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bottle-cli-"));
  const file = path.join(dir, "bottle.json");
  writeFileSync(file, text);
  return file;
}

describe("bottle CLI", () => {
  it("validate prints every problem with its path and hint, exit 2, no stack", async () => {
    const file = manifestFile(
      JSON.stringify({ bottles: { impl: { agnt: {}, egress: { routes: [{ host: "https://x.com" }] }, git: { upstreams: [{ name: "a", url: "git@h:o/r.git" }] } } } }),
    );
    const o = capture();
    expect(await runCli(["validate", "-f", file], o)).toBe(2);
    expect(o.stderr).toContain("3 problems");
    expect(o.stderr).toContain('bottles.impl.agnt: unknown key "agnt"');
    expect(o.stderr).toContain('hint: did you mean "agent"?');
    expect(o.stderr).toContain("bottles.impl.egress.routes[0].host");
    expect(o.stderr).toContain("bottles.impl.git.upstreams[0].knownHostKey");
    expect(o.stderr).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)/);
  });

  it("validate accepts the example", async () => {
    const o = capture();
    expect(await runCli(["validate", "-f", manifestFile(example), "--json"], o)).toBe(0);
    expect(JSON.parse(o.stdout)).toMatchObject({ ok: true, bottles: ["implementer", "reviewer"] });
  });

  it("plan --json is byte-identical across runs", async () => {
    const file = manifestFile(example);
    const a = capture();
    const b = capture();
    expect(await runCli(["plan", "implementer", "-f", file, "--json"], a)).toBe(0);
    expect(await runCli(["plan", "implementer", "-f", file, "--json"], b)).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(JSON.parse(a.stdout).bottle).toBe("implementer");
  });

  it("unknown bottle, missing manifest and unknown command are user mistakes (exit 2)", async () => {
    const file = manifestFile(example);
    const o = capture();
    expect(await runCli(["plan", "implementor", "-f", file], o)).toBe(2);
    expect(o.stderr).toContain('hint: did you mean "implementer"?');
    expect(await runCli(["validate", "-f", "/nonexistent/bottle.json"], o)).toBe(2);
    expect(o.stderr).toContain("no manifest at /nonexistent/bottle.json");
    expect(await runCli(["frobnicate"], o)).toBe(2);
  });

  it("--help explains each command with examples", async () => {
    const o = capture();
    expect(await runCli(["plan", "--help"], o)).toBe(0);
    expect(o.stdout).toContain("Examples:");
    expect(o.stdout).toContain("bottle plan implementer --json");
  });

  it("schema prints a JSON Schema", async () => {
    const o = capture();
    expect(await runCli(["schema"], o)).toBe(0);
    expect(JSON.parse(o.stdout).title).toBe("bottle.json");
  });

  it("plan of a bottle named like an Object.prototype member is a user mistake, not a bug", async () => {
    const file = manifestFile(example);
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      const o = capture();
      expect(await runCli(["plan", name, "-f", file], o), name).toBe(2);
      expect(o.stderr).toContain(`no bottle named "${name}"`);
      expect(o.stderr).not.toContain("bottle hit a bug");
    }
  });

  it("validate refuses what start would refuse, each under its bottle, from one check", async () => {
    const file = manifestFile(
      JSON.stringify({
        bottles: {
          strict: { pipelock: { enabled: true, mode: "strict" } },
          hosts: {
            git: {
              upstreams: [
                { name: "a", url: "https://x.test/a.git", extraHosts: { "x.test": "10.0.0.1" } },
                { name: "b", url: "https://x.test/b.git", extraHosts: { "x.test": "10.0.0.2" } },
              ],
            },
          },
          vm: { backend: "smolvm", pipelock: { enabled: true } },
          fine: { egress: { routes: [{ host: "api.example.com" }] } },
        },
      }),
    );
    const o = capture();
    expect(await runCli(["validate", "-f", file], o)).toBe(2);
    expect(o.stderr).toContain("3 problems");
    expect(o.stderr).toContain("bottles.strict: pipelock strict mode lets only route hosts through");
    expect(o.stderr).toContain("bottles.hosts: git upstreams \"a\" and \"b\" map x.test to different addresses");
    expect(o.stderr).toContain("bottles.vm.pipelock.enabled: pipelock is not supported on the smolvm backend");
    // start refuses the same, before it touches the engine or the state dir
    const stateHome = mkdtempSync(path.join(os.tmpdir(), "bottle-cli-state-"));
    const before = process.env.XDG_STATE_HOME;
    process.env.XDG_STATE_HOME = stateHome;
    try {
      const s = capture();
      expect(await runCli(["start", "strict", "-f", file, "--no-build", "--detach"], s)).toBe(2);
      expect(s.stderr).toContain("bottles.strict: pipelock strict mode");
      expect(readdirSync(stateHome)).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.XDG_STATE_HOME;
      else process.env.XDG_STATE_HOME = before;
    }
  });

  it("start refuses missing host files (prompt, skills, workspace) before creating anything; validate warns", async () => {
    const file = manifestFile(JSON.stringify({ bottles: { impl: { agent: { prompt: "prompts/missing.md", skills: ["skills/none"] }, workspace: { path: "no-such-dir" } } } }));
    const v = capture();
    expect(await runCli(["validate", "-f", file, "--json"], v)).toBe(0);
    expect(JSON.parse(v.stdout).warnings.map((w: { path: string }) => w.path)).toEqual(["bottles.impl.agent.prompt", "bottles.impl.agent.skills[0]", "bottles.impl.workspace.path"]);
    const stateHome = mkdtempSync(path.join(os.tmpdir(), "bottle-cli-state-"));
    const before = process.env.XDG_STATE_HOME;
    process.env.XDG_STATE_HOME = stateHome;
    try {
      const s = capture();
      expect(await runCli(["start", "impl", "-f", file, "--no-build", "--detach"], s)).toBe(2);
      expect(s.stderr).toContain(`bottles.impl.agent.prompt: the prompt file ${path.join(path.dirname(file), "prompts/missing.md")} does not exist`);
      expect(readdirSync(stateHome)).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.XDG_STATE_HOME;
      else process.env.XDG_STATE_HOME = before;
    }
  });
});

