import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, type Output } from "./index.js";

const require = createRequire(import.meta.url);
const example = readFileSync(require.resolve("@bottle/manifest/bottle.example.json"), "utf8");

function capture(): Output & { stdout: string; stderr: string } {
  const o = {
    stdout: "",
    stderr: "",
    out: (t: string) => void (o.stdout += `${t}\n`),
    err: (t: string) => void (o.stderr += `${t}\n`),
    json: (v: unknown) => void (o.stdout += `${JSON.stringify(v, null, 2)}\n`),
  };
  return o;
}

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
});
