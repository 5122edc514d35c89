import path from "node:path";
import { resolvePlan } from "@bottle/plan";
import { parseManifest } from "@bottle/manifest";
import { describe, expect, it } from "vitest";
import { agentFilesScript, bundleWorkload, mcpAddCommand, renderAgentGitconfig, shellQuote, unpackScript } from "./provision.js";

function testManifest() {
  return {
    bottles: {
      dev: {
        backend: "smolvm",
        agent: { prompt: "./prompt.md", skills: ["./skills/review"] },
        git: { upstreams: [{ name: "app", url: "https://github.com/acme/app.git" }] },
        supervise: { enabled: true },
      },
    },
  };
}

function plan(address?: string) {
  const manifest = parseManifest(JSON.stringify(testManifest()));
  return resolvePlan(manifest, "dev", { manifestPath: path.resolve("/proj/bottle.json"), backend: "smolvm", ...(address ? { bundleAddress: address } : {}) });
}

describe("provisioning scripts", () => {
  it("gitconfig rewrites every URL form of an upstream to the IP-based gate", () => {
    const text = renderAgentGitconfig(plan("100.96.1.2"));
    expect(text).toContain('[url "git://100.96.1.2:9418/app.git"]');
    expect(text).toContain('\tinsteadOf = "https://github.com/acme/app.git"\n');
    expect(text).toContain('\tinsteadOf = "git@github.com:acme/app.git"\n');
  });

  it("registers supervise as the agent user with the IP-based URL", () => {
    expect(mcpAddCommand(plan("100.96.1.2"))).toEqual([
      "runuser", "-u", "node", "--", "env", "HOME=/home/node",
      "claude", "mcp", "add", "--transport", "http", "supervise", "http://100.96.1.2:9100/mcp",
    ]);
  });

  it("the bundle workload waits for the provisioned marker, then runs the supervisor", () => {
    const [sh, c, script] = bundleWorkload(plan());
    expect([sh, c]).toEqual(["sh", "-c"]);
    expect(script).toContain("while [ ! -e /etc/bottle/.provisioned ]");
    expect(script).toContain("exec bottle-supervisor run --config /etc/bottle/daemons.json");
  });

  it("agent files end up owned by the agent user with private prompt", () => {
    const script = agentFilesScript(plan("100.96.1.2"), "/var/tmp/bottle-stage/agent-files.tar")[2]!;
    expect(script).toContain("tar -xf /var/tmp/bottle-stage/agent-files.tar -C / --no-overwrite-dir --no-same-owner");
    expect(script).toContain("chown -R node:node /home/node/.bottle");
    expect(script).toContain("chown -R node:node /home/node/.claude/skills/review");
    expect(script).toContain("chmod 0600 /home/node/.bottle/prompt.md");
  });

  it("quotes for sh", () => {
    expect(shellQuote("plain/path-1.json")).toBe("plain/path-1.json");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(unpackScript("/a b.tar")[2]).toContain("'/a b.tar'");
  });
});
