import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { BottleError } from "@bottle/errors";
import type { BottlePlan, GitUpstreamPlan } from "@bottle/plan";
import { mergeExtraHosts, renderAgentGitconfig, renderGitGate, renderKnownHosts, repoUrlForms } from "./index.js";

function upstream(name: string, url: string, extra: Partial<GitUpstreamPlan> = {}): GitUpstreamPlan {
  return {
    name,
    url,
    transport: url.startsWith("https://") ? "https" : url.startsWith("git://") ? "git" : "ssh",
    username: "x-access-token",
    protectedBranches: ["main", "master"],
    allowedRefs: [],
    extraHosts: {},
    gateUrl: `git://git-gate/${name}.git`,
    insteadOf: [],
    ...extra,
  };
}

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const UPSTREAMS = [
  upstream("app", "git@github.com:example/app.git", { credential: "git.app.credential", knownHostKey: HOST_KEY }),
  upstream("docs", "https://git.example.com/team/docs.git", {
    credential: "git.docs.credential",
    username: "bot",
    protectedBranches: ["main", "release/*"],
    allowedRefs: ["refs/heads/agent/*", "refs/tags/v*"],
    extraHosts: { "git.example.com": "10.0.0.5" },
  }),
  upstream("legacy", "ssh://git@old.example.com:2222/srv/legacy.git", { credential: "git.legacy.credential" }),
];

describe("renderGitGate", () => {
  const rendered = renderGitGate(UPSTREAMS);
  const file = (path: string): string => {
    const f = rendered.files.find((x) => x.path === path);
    if (!f) throw new Error(`no ${path}`);
    return f.content;
  };

  it("renders the bundle-contract files with their modes", () => {
    expect(rendered.files.map((f) => [f.path, f.mode.toString(8)])).toEqual([
      ["/etc/bottle/git-gate/entrypoint.sh", "755"],
      ["/etc/bottle/git-gate/access-hook.sh", "755"],
      ["/etc/bottle/git-gate/audit.sh", "644"],
      ["/etc/bottle/git-gate/credential-helper.sh", "755"],
      ["/etc/bottle/git-gate/hooks/app/pre-receive", "755"],
      ["/etc/bottle/git-gate/app.known_hosts", "644"],
      ["/etc/bottle/git-gate/hooks/docs/pre-receive", "755"],
      ["/etc/bottle/git-gate/hooks/legacy/pre-receive", "755"],
    ]);
    expect(rendered.entrypoint).toBe("/etc/bottle/git-gate/entrypoint.sh");
    expect(rendered.extraHosts).toEqual({ "git.example.com": "10.0.0.5" });
  });

  it("renders scripts that sh can parse", () => {
    for (const f of rendered.files.filter((x) => x.mode === 0o755)) {
      expect(() => execFileSync("sh", ["-n"], { input: f.content })).not.toThrow();
    }
  });

  it("matches the snapshots", () => {
    for (const f of rendered.files) expect(f.content).toMatchSnapshot(f.path);
  });

  it("never puts a credential into a script: only the files' paths", () => {
    const all = rendered.files.map((f) => f.content).join("\n");
    expect(all).toContain("/run/bottle/secrets/git/app/ssh_key");
    expect(all).toContain("/run/bottle/secrets/git/docs/token");
    expect(all).not.toMatch(/password=(?!%s)|x-access-token@|bot@/);
  });

  it("pins ssh host keys and fails closed without one", () => {
    const entry = file("/etc/bottle/git-gate/entrypoint.sh");
    expect(entry).toContain("-o StrictHostKeyChecking=yes");
    expect(entry).toContain("-o UserKnownHostsFile='/etc/bottle/git-gate/app.known_hosts'");
    expect(entry).toContain("-o UserKnownHostsFile='/dev/null'");
    expect(file("/etc/bottle/git-gate/hooks/legacy/pre-receive")).toContain("without a pinned host key");
    expect(file("/etc/bottle/git-gate/access-hook.sh")).toMatch(/'legacy'\) refuse "upstream legacy is an ssh upstream without a pinned host key/);
  });

  it("renders the ref policy as case patterns", () => {
    const hook = file("/etc/bottle/git-gate/hooks/docs/pre-receive");
    expect(hook).toContain("'refs/heads/agent/'*|'refs/tags/v'*) ;;");
    expect(hook).toContain("'refs/heads/main'|'refs/heads/release/'*)");
  });

  it("takes paths, port and scanner as options, or from a full plan", () => {
    const custom = renderGitGate({ upstreams: UPSTREAMS.slice(0, 1), extraHosts: {} }, {
      configDir: "/tmp/g/etc",
      secretsDir: "/tmp/g/secrets",
      mirrorsDir: "/tmp/g/mirrors",
      port: 19418,
      listen: "127.0.0.1",
      scanner: ["/usr/bin/node", "/x/bin.js"],
    });
    const entry = custom.files[0]!.content;
    expect(entry).toContain("--port=19418");
    expect(entry).toContain("--listen='127.0.0.1'");
    expect(entry).toContain("MIRRORS='/tmp/g/mirrors'");
    expect(custom.files.find((f) => f.path === "/tmp/g/etc/hooks/app/pre-receive")!.content).toContain("'/usr/bin/node' '/x/bin.js' git --repo");
  });

  it("takes the bundle paths and port from a full plan", () => {
    const plan = {
      git: { upstreams: UPSTREAMS.slice(0, 1), extraHosts: {} },
      bundle: {
        paths: { config: "/cfg", secrets: "/sec", state: "/st", ca: "/cfg/ca" },
        ports: { egress: 8080, gitGate: 9419, supervise: 9100, pipelock: 8888, health: 9000 },
      },
    } as unknown as BottlePlan;
    const out = renderGitGate(plan);
    expect(out.entrypoint).toBe("/cfg/git-gate/entrypoint.sh");
    const entry = out.files[0]!.content;
    expect(entry).toContain("MIRRORS='/st/git'");
    expect(entry).toContain("UPSTREAM_CA='/cfg/ca/upstream-ca.pem'");
    expect(entry).toContain("'/sec/git/app/ssh_key'");
    expect(entry).toContain("--port=9419");
    expect(out.files.find((f) => f.path.endsWith("pre-receive"))!.content).toContain("SECRETS_JSON='/sec/secrets.json'");
  });

  it("rejects names that are not plain repository names", () => {
    expect(() => renderGitGate([upstream("../x", "git://h/x.git")])).toThrowError(/cannot be used as a repository name/);
    expect(() => renderGitGate([upstream("a", "git://h/a.git"), upstream("a", "git://h/b.git")])).toThrowError(/two git upstreams/);
  });
});

describe("renderKnownHosts", () => {
  it("puts the host (with a non-default port) in front of bare keys and keeps full lines", () => {
    expect(renderKnownHosts(upstream("a", "git@github.com:x/y.git", { knownHostKey: HOST_KEY }))).toBe(`github.com ${HOST_KEY}\n`);
    expect(renderKnownHosts(upstream("a", "ssh://git@h.example:2222/y.git", { knownHostKey: HOST_KEY }))).toBe(`[h.example]:2222 ${HOST_KEY}\n`);
    expect(renderKnownHosts(upstream("a", "git@h:y.git", { knownHostKey: `other ${HOST_KEY}\n\n# c\n` }))).toBe(`other ${HOST_KEY}\n`);
    expect(renderKnownHosts(upstream("a", "https://h/y.git", { knownHostKey: HOST_KEY }))).toBeUndefined();
  });
});

describe("mergeExtraHosts", () => {
  it("merges agreeing entries, sorted", () => {
    expect(
      mergeExtraHosts([
        { name: "a", extraHosts: { "b.example": "10.0.0.2", "a.example": "10.0.0.1" } },
        { name: "b", extraHosts: { "a.example": "10.0.0.1" } },
      ]),
    ).toEqual({ "a.example": "10.0.0.1", "b.example": "10.0.0.2" });
  });

  it("throws a BottleError naming both upstreams on a conflict", () => {
    let error: unknown;
    try {
      mergeExtraHosts([
        { name: "app", extraHosts: { "git.example.com": "10.0.0.1" } },
        { name: "docs", extraHosts: { "git.example.com": "10.0.0.2" } },
      ]);
    } catch (e) {
      error = e;
    }
    expect(BottleError.isInstance(error)).toBe(true);
    expect((error as BottleError).code).toBe("GIT_GATE_EXTRA_HOSTS_CONFLICT");
    expect((error as BottleError).message).toContain('"app" and "docs"');
  });
});

describe("renderAgentGitconfig", () => {
  it("rewrites every form of each upstream URL to the gate (docker)", () => {
    expect(renderAgentGitconfig(UPSTREAMS, "git://git-gate")).toMatchInlineSnapshot(`
      "# Rendered by @bottle/git-gate-render: every git upstream goes through the bottle's git gate.
      [url "git://git-gate/app.git"]
      	insteadOf = "git@github.com:example/app.git"
      	insteadOf = "ssh://git@github.com/example/app.git"
      	insteadOf = "https://github.com/example/app.git"
      	insteadOf = "git@github.com:example/app"
      	insteadOf = "ssh://git@github.com/example/app"
      	insteadOf = "https://github.com/example/app"
      [url "git://git-gate/docs.git"]
      	insteadOf = "https://git.example.com/team/docs.git"
      	insteadOf = "git@git.example.com:team/docs.git"
      	insteadOf = "ssh://git@git.example.com/team/docs.git"
      	insteadOf = "git@git.example.com:team/docs"
      	insteadOf = "ssh://git@git.example.com/team/docs"
      	insteadOf = "https://git.example.com/team/docs"
      [url "git://git-gate/legacy.git"]
      	insteadOf = "ssh://git@old.example.com:2222/srv/legacy.git"
      	insteadOf = "ssh://git@old.example.com:2222/srv/legacy"
      "
    `);
  });

  it("uses the bundle IP and port on smolvm, and includes the plan's own forms", () => {
    const text = renderAgentGitconfig([{ ...UPSTREAMS[0]!, insteadOf: ["https://mirror.example/app"] }], "git://192.168.64.2:9418/");
    expect(text).toContain('[url "git://192.168.64.2:9418/app.git"]');
    expect(text).toContain('insteadOf = "https://mirror.example/app"');
  });

  it("is accepted by git config", () => {
    const out = execFileSync("git", ["config", "--file", "-", "--get-all", "url.git://git-gate/app.git.insteadof"], {
      input: renderAgentGitconfig(UPSTREAMS, "git://git-gate"),
    }).toString();
    expect(out.split("\n").filter(Boolean)).toHaveLength(6);
  });
});

describe("repoUrlForms", () => {
  it("derives scp-like, ssh:// and https forms", () => {
    expect(repoUrlForms("https://github.com/o/r")).toEqual([
      "https://github.com/o/r",
      "git@github.com:o/r.git",
      "ssh://git@github.com/o/r.git",
      "https://github.com/o/r.git",
      "git@github.com:o/r",
      "ssh://git@github.com/o/r",
    ]);
  });
});
