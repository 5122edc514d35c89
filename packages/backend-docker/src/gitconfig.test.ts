import { execa } from "execa";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { examplePlan } from "./__fixtures__/plan.js";
import { renderAgentGitconfigFile } from "./gitconfig.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "bottle-gitconfig-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("renderAgentGitconfigFile", () => {
  const plan = examplePlan();
  const text = renderAgentGitconfigFile(plan);

  it("matches the snapshot", () => {
    expect(text).toMatchSnapshot();
  });

  // Real git decides: every planned URL form must resolve to the gate.
  it("makes git rewrite every upstream URL form to the gate", async () => {
    const file = path.join(dir, "gitconfig");
    writeFileSync(file, text);
    for (const upstream of plan.git.upstreams) {
      for (const form of upstream.insteadOf) {
        const result = await execa("git", ["ls-remote", "--get-url", form], { env: { GIT_CONFIG_GLOBAL: file, GIT_CONFIG_NOSYSTEM: "1", HOME: dir }, cwd: dir });
        expect(result.stdout, form).toBe(upstream.gateUrl);
      }
    }
    const name = await execa("git", ["config", "--file", file, "user.email"]);
    expect(name.stdout).toBe("agent@bottle.invalid");
  });

  it("has no url rules when there are no upstreams", () => {
    expect(renderAgentGitconfigFile({ ...plan, git: { upstreams: [], extraHosts: {} } })).not.toContain("[url");
  });

  it("marks a mounted workspace safe", () => {
    const mount = { ...plan, agent: { ...plan.agent, workspace: { hostPath: "/src", guestPath: "/workspace", mode: "mount" as const, copyGit: false } } };
    expect(renderAgentGitconfigFile(mount)).toContain('[safe]\n\tdirectory = "/workspace"\n');
    expect(text).not.toContain("[safe]");
  });
});
