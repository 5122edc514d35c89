import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseManifest } from "@bottle/manifest";
import { resolvePlan } from "@bottle/plan";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { initTemplate } from "./init-template.js";
import { runCli } from "./index.js";
import { capture } from "./__fixtures__/capture.js";

describe("initTemplate", () => {
  it.each([
    ["api-key", "x-api-key", "ANTHROPIC_API_KEY", ""],
    ["subscription", "authorization", "CLAUDE_CODE_OAUTH_TOKEN", "Bearer "],
  ] as const)("%s: a valid manifest whose model route injects the credential; the agent holds a placeholder", (auth, header, envName, prefix) => {
    const template = initTemplate({ name: "claude", auth, schema: "./bottle.schema.json" });
    const manifest = parseManifest(JSON.stringify(template.manifest));
    const plan = resolvePlan(manifest, "claude", { manifestPath: "/p/bottle.json" });
    expect(template.secretEnv).toBe(envName);
    expect(plan.routes.map((r) => r.host)).toEqual(["api.anthropic.com"]);
    expect(plan.routes[0]!.inject).toEqual([{ header, secret: expect.any(String), prefix }]);
    expect(plan.secrets).toEqual([expect.objectContaining({ source: { env: envName }, usedBy: "egress" })]);
    expect(plan.agent.env[envName]).toMatch(/placeholder/);
    expect(plan.agent.workspace).toMatchObject({ hostPath: "/p", mode: "copy" });
  });
});

describe("bottle init", () => {
  let dir: string;
  let cwd: string;
  beforeEach(() => {
    cwd = process.cwd();
    dir = mkdtempSync(path.join(os.tmpdir(), "bottle-init-"));
    process.chdir(dir);
  });
  afterEach(() => process.chdir(cwd));

  it("writes bottle.json with $schema and the schema, says what to export, and refuses to overwrite", async () => {
    const o = capture();
    expect(await runCli(["init", "--auth", "subscription", "--name", "dev"], o)).toBe(0);
    expect(o.stdout).toContain("export CLAUDE_CODE_OAUTH_TOKEN=");
    expect(readdirSync(dir).sort()).toEqual(["bottle.json", "bottle.schema.json"]);
    const written = JSON.parse(readFileSync(path.join(dir, "bottle.json"), "utf8"));
    expect(written.$schema).toBe("./bottle.schema.json");
    expect(Object.keys(written.bottles)).toEqual(["dev"]);
    expect(await runCli(["validate"], capture())).toBe(0);

    const again = capture();
    expect(await runCli(["init"], again)).toBe(2);
    expect(again.stderr).toContain("exists already");
    expect(await runCli(["init", "--force"], capture())).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(path.join(dir, "bottle.json"), "utf8")).bottles)).toEqual(["claude"]);
  });

  it("refuses a bad --auth or --name before writing anything", async () => {
    const auth = capture();
    expect(await runCli(["init", "--auth", "password"], auth)).toBe(2);
    expect(auth.stderr).toContain("--auth must be api-key or subscription");
    expect(await runCli(["init", "--name", "Bad Name"], capture())).toBe(2);
    expect(readdirSync(dir)).toEqual([]);
  });
});
