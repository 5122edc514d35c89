import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { TEST_LABEL, TEST_RUN_ID, TEST_RUN_LABEL, ensureDocker } from "@bottle/test-utils";
import type { BottlePlan } from "@bottle/plan";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { examplePlan } from "./__fixtures__/plan.js";
import { buildStandin, removeImages } from "./__fixtures__/standins.js";
import { DockerCli } from "./engine.js";
import { launchBottle } from "./launch.js";
import { attachAgent, execInAgent, listBottles, logs, reloadBundle } from "./status.js";
import { stopBottle } from "./teardown.js";

const run = TEST_RUN_ID.replace(/[^a-z0-9]/g, "");
const images = { bundle: `bottle-test/bundle-standin:${run}`, agent: `bottle-test/agent-standin:${run}` };
const tmp = mkdtempSync(path.join(os.tmpdir(), "bottle-launch-"));
let cli: DockerCli;

/** The example plan, renamed for this run, on the stand-in images, with host paths under tmp. */
function testPlan(name: string): BottlePlan {
  const plan = structuredClone(examplePlan());
  const slug = `bt${run}-${name}`;
  const prefix = `bottle-${slug}`;
  plan.slug = slug;
  plan.composeProject = prefix;
  plan.networks = { internal: `${prefix}-internal`, egress: `${prefix}-egress` };
  plan.machines = { bundle: `${prefix}-bundle`, agent: `${prefix}-agent` };
  plan.labels = { ...plan.labels, "dev.bottle.slug": slug, [TEST_LABEL]: "1", [TEST_RUN_LABEL]: TEST_RUN_ID };
  plan.bundle.image = images.bundle;
  plan.agent.image = images.agent;
  plan.agent.prompt = { hostPath: path.join(tmp, "prompt.md"), guestPath: "/home/node/.bottle/prompt.md" };
  plan.agent.skills = [{ hostPath: path.join(tmp, "skills", "review"), guestPath: "/home/node/.claude/skills/review" }];
  plan.agent.workspace = { hostPath: path.join(tmp, "repo"), guestPath: "/workspace", mode: "copy", copyGit: true };
  return plan;
}

const secrets = (plan: BottlePlan) => Object.fromEntries(plan.secrets.map((s) => [s.id, `value-of-${s.id}`]));
const writeBundleFiles = async ({ stateDir }: { stateDir: string }) => {
  mkdirSync(path.join(stateDir, "config", "ca"), { recursive: true });
  writeFileSync(path.join(stateDir, "config", "daemons.json"), '{"healthPort":9000,"daemons":[]}\n');
  writeFileSync(path.join(stateDir, "config", "ca", "ca.crt"), "-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n");
};

async function inspect(container: string) {
  return JSON.parse((await execa("docker", ["inspect", container])).stdout)[0];
}

beforeAll(async () => {
  await ensureDocker();
  cli = await DockerCli.connect();
  await Promise.all([buildStandin("bundle", images.bundle), buildStandin("agent", images.agent)]);
  writeFileSync(path.join(tmp, "prompt.md"), "You are a careful implementer.\n");
  mkdirSync(path.join(tmp, "skills", "review"), { recursive: true });
  writeFileSync(path.join(tmp, "skills", "review", "SKILL.md"), "# review\n");
  mkdirSync(path.join(tmp, "repo"));
  writeFileSync(path.join(tmp, "repo", "README.md"), "hello\n");
  execFileSync("git", ["init", "-q", path.join(tmp, "repo")]);
});

afterAll(async () => {
  // Anything a failed assertion left behind, by this run's label.
  for (const kind of [["ps", "-aq"], ["network", "ls", "-q"]]) {
    const ids = (await execa("docker", [...kind, "--filter", `label=${TEST_RUN_LABEL}=${TEST_RUN_ID}`])).stdout.split("\n").filter(Boolean);
    if (ids.length) await execa("docker", kind[0] === "ps" ? ["rm", "-f", "-v", ...ids] : ["network", "rm", ...ids], { reject: false });
  }
  await removeImages(Object.values(images));
  rmSync(tmp, { recursive: true, force: true });
});

describe("launchBottle / stopBottle on a real engine", () => {
  it("creates networks, starts bundle then agent, provisions, reloads, and tears everything down", async () => {
    const plan = testPlan("up");
    const stateDir = path.join(tmp, "state-up");
    const steps: string[] = [];
    const handle = await launchBottle(plan, { stateDir, secrets: secrets(plan), writeBundleFiles, cli, onProgress: (e) => steps.push(e.step) });

    // Networks: internal really is internal; its subnet is reported for pipelock.yaml.
    expect(handle.networks.internal.subnet).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
    const internal = JSON.parse((await execa("docker", ["network", "inspect", plan.networks.internal])).stdout)[0];
    expect(internal.Internal).toBe(true);
    expect(internal.Labels).toMatchObject({ "dev.bottle.managed": "true", "dev.bottle.slug": plan.slug });
    expect(steps).toEqual(expect.arrayContaining(["networks", "compose-up", "health", "provision", "ready"]));

    // The agent sits on the internal network only; the bundle on both, reachable by alias.
    const agent = await inspect(plan.machines.agent);
    expect(Object.keys(agent.NetworkSettings.Networks)).toEqual([plan.networks.internal]);
    expect(agent.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(agent.HostConfig.Init).toBe(true);
    expect(Object.keys((await inspect(plan.machines.bundle)).NetworkSettings.Networks).sort()).toEqual([plan.networks.egress, plan.networks.internal].sort());
    const sh = async (script: string) => (await execa("docker", ["exec", "-u", "node", plan.machines.agent, "sh", "-c", script], { reject: false })).stdout;
    expect(await sh("getent hosts egress git-gate supervise | wc -l")).toBe("3");
    expect(await sh("getent hosts deb.debian.org || echo no-dns")).toBe("no-dns");

    // Secrets reached the bundle's bind mount with 0600, never the agent.
    expect(statSync(path.join(stateDir, "secrets", "secrets.json")).mode & 0o777).toBe(0o600);
    expect(await sh("env; cat ~/.gitconfig; ls -a /run /etc/bottle 2>&1")).not.toMatch(/value-of-/);

    // Provisioning, checked from inside the agent.
    expect(await sh("cat /etc/ssl/certs/ca-certificates.crt")).toContain("stand-in");
    expect(await sh("cat ~/.gitconfig")).toMatch(/\[url "git:\/\/git-gate\/app.git"\]\n(\tinsteadOf = .*\n)*\tinsteadOf = "git@github.com:example\/app.git"/);
    expect(await sh("stat -c '%U %a' ~/.bottle/prompt.md ~/.claude/skills/review/SKILL.md ~/.claude/skills/review")).toBe("node 644\nnode 644\nnode 755");
    expect(await sh("cd /workspace && ls -A && stat -c %U README.md")).toBe(".git\nREADME.md\nnode");
    expect(await sh("cat ~/claude-calls")).toBe(`mcp add --scope user --transport http supervise ${plan.supervise.url}`);

    // Status, logs, exec, reload.
    const row = (await listBottles({ cli })).find((r) => r.slug === plan.slug);
    expect(row).toMatchObject({ bottle: "implementer", stateDir, bundle: { state: "running", health: "healthy" }, agent: { state: "running" } });
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    expect(await logs(plan.slug, { sidecar: "egress", output: sink, cli })).toBe(0);
    expect(lines).toEqual(["[egress] listening\n"]);
    expect(await execInAgent(plan.slug, ["sh", "-c", "exit 3"], { tty: false, cli })).toBe(3);
    expect(await attachAgent(plan, { command: ["sh", "-c", 'test "$(id -un) $PWD" = "node /workspace" && exit 4'], tty: false, cli })).toBe(4);
    await reloadBundle(plan, { cli });
    for (let i = 0; i < 50 && !existsSync(path.join(stateDir, "bundle", "hup")); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(path.join(stateDir, "bundle", "hup"))).toBe(true);

    // Stop: logs saved, nothing left, metadata no longer claims a holder.
    const report = await stopBottle(plan, { stateDir, cli, owner: { uid: 1234, gid: 1234 } });
    // What the bundle (root inside) wrote is handed back to the host user.
    expect(statSync(path.join(stateDir, "bundle", "hup")).uid).toBe(1234);
    expect(report.networks.sort()).toEqual([plan.networks.egress, plan.networks.internal].sort());
    // Like `compose logs --timestamps`: service prefix, then the engine's timestamp.
    expect(readFileSync(path.join(stateDir, "logs", "compose.log"), "utf8")).toMatch(/^bundle \| \d{4}-\d\d-\d\dT\S+ \[supervisor\] stand-in bundle up$/m);
    const left = await execa("docker", ["ps", "-aq", "--filter", `label=dev.bottle.slug=${plan.slug}`]);
    expect(left.stdout).toBe("");
    expect((await execa("docker", ["network", "ls", "-q", "--filter", `label=dev.bottle.slug=${plan.slug}`])).stdout).toBe("");
    expect(JSON.parse(readFileSync(path.join(stateDir, "metadata.json"), "utf8"))).not.toHaveProperty("pid");
  });

  it("removes what it created when the bundle never becomes healthy, with the bundle's logs in the error", async () => {
    const plan = testPlan("sick");
    const stateDir = path.join(tmp, "state-sick");
    // No daemons.json → the stand-in's healthcheck fails.
    const error = await launchBottle(plan, {
      stateDir,
      secrets: secrets(plan),
      cli,
      provision: false,
      healthTimeoutMs: 30_000,
      compose: { health: { interval: "1s", timeout: "2s", retries: 1, startPeriod: "0s" } },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "BUNDLE_UNHEALTHY" });
    expect((error as Error).message).toContain("stand-in bundle up");
    expect((await execa("docker", ["ps", "-aq", "--filter", `label=dev.bottle.slug=${plan.slug}`])).stdout).toBe("");
    expect((await execa("docker", ["network", "ls", "-q", "--filter", `label=dev.bottle.slug=${plan.slug}`])).stdout).toBe("");
    expect(existsSync(path.join(stateDir, "logs", "compose.log"))).toBe(true);
  });

  it("tears down when the start is interrupted", async () => {
    const plan = testPlan("abort");
    const abort = new AbortController();
    const error = await launchBottle(plan, {
      stateDir: path.join(tmp, "state-abort"),
      secrets: secrets(plan),
      writeBundleFiles,
      cli,
      signal: abort.signal,
      onProgress: (e) => e.step === "compose-up" && abort.abort(new Error("SIGINT")),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "LAUNCH_ABORTED" });
    expect((await execa("docker", ["ps", "-aq", "--filter", `label=dev.bottle.slug=${plan.slug}`])).stdout).toBe("");
    expect((await execa("docker", ["network", "ls", "-q", "--filter", `label=dev.bottle.slug=${plan.slug}`])).stdout).toBe("");
  });
});
