// Faults injected into real bottles (real CLI, real images, real engine): a supervised
// daemon killed inside a running bundle, detached starts killed part-way, and two starts of
// one bottle racing. The bottles have no egress routes; the git upstream resolves to the
// bundle's own loopback, so nothing leaves this machine.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const cliBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");
const dir = mkdtempSync(path.join(os.tmpdir(), "bottle-faults-"));
const stateHome = path.join(dir, "state");
const manifestPath = path.join(dir, "bottle.json");
const env = { ...process.env, XDG_STATE_HOME: stateHome };

const bottleSpec = {
  agent: { command: ["bash"] },
  git: { upstreams: [{ name: "app", url: "https://git.fault.test/app.git", extraHosts: { "git.fault.test": "127.0.0.1" } }] },
};

interface Plan {
  slug: string;
  machines: { bundle: string; agent: string };
}
const plans: Record<string, Plan> = {};

function bottle(args: string[]) {
  const res = spawnSync(process.execPath, [cliBin, ...args], { env, encoding: "utf8" });
  return { code: res.status ?? 1, stdout: res.stdout, stderr: res.stderr };
}

function docker(args: string[]) {
  const res = spawnSync("docker", args, { encoding: "utf8" });
  return { code: res.status ?? 1, out: `${res.stdout}${res.stderr}`.trim(), stdout: res.stdout.trim() };
}

/** Containers and networks the engine holds for a slug (by label). */
function labelled(slug: string) {
  const ids = (args: string[]) => docker([...args, "--filter", `label=dev.bottle.slug=${slug}`]).stdout.split("\n").filter(Boolean);
  return { containers: ids(["ps", "-a", "-q"]), networks: ids(["network", "ls", "-q"]) };
}

async function until<T>(probe: () => T | undefined | false, what: string, attempts = 300): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Zombie processes inside a container (from /proc: the image has no ps). */
function zombies(container: string): string[] {
  const res = docker(["exec", container, "sh", "-c", "grep -l '^State:[[:space:]]*Z' /proc/[0-9]*/status 2>/dev/null || true"]);
  return res.stdout.split("\n").filter(Boolean);
}

interface DaemonHealth {
  name: string;
  pid: number | null;
  state: string;
  restarts: number;
}
function supervisorHealth(bundle: string): DaemonHealth[] {
  const res = docker(["exec", bundle, "bottle-supervisor", "health"]);
  return (JSON.parse(res.stdout) as { daemons: DaemonHealth[] }).daemons;
}

beforeAll(() => {
  writeFileSync(manifestPath, `${JSON.stringify({ bottles: { gate: bottleSpec, interrupted: bottleSpec, race: bottleSpec } }, null, 2)}\n`);
  for (const name of ["gate", "interrupted", "race"]) {
    const res = bottle(["plan", name, "-f", manifestPath, "--json"]);
    expect(res.code, res.stderr).toBe(0);
    plans[name] = JSON.parse(res.stdout) as Plan;
  }
});

afterAll(() => {
  for (const plan of Object.values(plans)) {
    bottle(["stop", plan.slug]);
    const left = labelled(plan.slug);
    if (left.containers.length) docker(["rm", "-f", "-v", ...left.containers]);
    if (left.networks.length) docker(["network", "rm", ...left.networks]);
  }
  rmSync(dir, { recursive: true, force: true });
}, 300_000);

describe("a supervised daemon killed inside a running bundle (sidecars image)", () => {
  it("git-gate recovers: its whole tree is replaced, port 9418 serves again, the bundle stays healthy, no zombies", async () => {
    const started = bottle(["start", "gate", "--detach", "--no-build", "-f", manifestPath]);
    expect(started.code, started.stderr).toBe(0);
    const { bundle, agent } = plans.gate!.machines;
    expect(zombies(bundle)).toEqual([]);

    const before = supervisorHealth(bundle).find((d) => d.name === "git-gate")!;
    expect(before.state).toBe("running");
    // the watched pid is the shell that became `git daemon`; the listening daemon is its child
    expect(docker(["exec", bundle, "sh", "-c", `grep -l '^PPid:[[:space:]]*${before.pid}$' /proc/[0-9]*/status | wc -l`]).stdout).not.toBe("0");
    expect(docker(["exec", bundle, "sh", "-c", `kill -9 ${before.pid}`]).code).toBe(0);

    const after = await until(() => {
      const gate = supervisorHealth(bundle).find((d) => d.name === "git-gate");
      return gate && gate.state === "running" && gate.pid !== before.pid && gate.restarts >= 1 ? gate : undefined;
    }, "git-gate restarted");
    expect(after.restarts).toBe(1);
    // the agent reaches the gate again: git daemon answers (the upstream itself is unreachable,
    // so the access hook refuses the fetch, but that answer comes from the daemon)
    const probe = docker(["exec", "-u", "node", agent, "sh", "-c", "git ls-remote git://git-gate/app.git 2>&1; true"]);
    expect(probe.out).not.toMatch(/unable to connect|Connection refused|Could not resolve/i);
    expect(probe.out).toMatch(/remote error|access denied|fatal: /i);
    // and the restart did not meet an orphan holding the port
    const logs = docker(["logs", bundle]).out;
    expect(logs).not.toContain("Address already in use");
    expect(logs).not.toContain("CRASH-LOOPING");
    expect(docker(["inspect", "-f", "{{.State.Health.Status}}", bundle]).stdout).toBe("healthy");
    expect(supervisorHealth(bundle).every((d) => d.state === "running")).toBe(true);
    expect(zombies(bundle)).toEqual([]);

    expect(bottle(["stop", "gate"]).code).toBe(0);
  });
});

describe("a detached start killed part-way", () => {
  // Where the start is killed: the progress line it has just printed.
  const points: Array<[string, RegExp]> = [
    ["after the networks exist", /\] networks: /],
    ["once the bundle is up", /\] compose-up: bundle /],
    ["while the agent is provisioned", /\] provision: /],
  ];

  for (const [when, line] of points) {
    it(`${when}: not listed as running, exec refuses, cleanup removes it and its secrets`, async () => {
      const { slug } = plans.interrupted!;
      // A process group of its own, killed whole (like a closed terminal): compose children go too.
      const child = spawn(process.execPath, [cliBin, "start", "interrupted", "--detach", "--no-build", "-f", manifestPath], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
      await new Promise<void>((resolve, reject) => {
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString();
          if (line.test(stderr)) resolve();
        });
        child.on("exit", () => reject(new Error(`start ended before "${line}":\n${stderr}`)));
      });
      process.kill(-child.pid!, "SIGKILL");
      await exited;
      // let the engine finish what it was asked before the kill (a create in flight)
      let last = "";
      await until(() => {
        const now = JSON.stringify(labelled(slug));
        const stable = now === last;
        last = now;
        return stable;
      }, "the engine to settle");

      const ls = bottle(["ls", "--json"]);
      expect(ls.code, ls.stderr).toBe(0);
      const row = (JSON.parse(ls.stdout) as Array<{ slug: string; phase: string }>).find((r) => r.slug === slug);
      if (row) expect(row.phase).toBe("interrupted");
      const table = bottle(["ls"]).stdout.split("\n").find((l) => l.startsWith(slug));
      if (table) expect(table).not.toMatch(/running|healthy/);

      const exec = bottle(["exec", slug, "--", "true"]);
      expect(exec.code).toBe(2);
      expect(exec.stderr).toContain("its start was interrupted");

      const secrets = path.join(stateHome, "bottle", slug, "secrets", "secrets.json");
      const cleanup = bottle(["cleanup", slug, "--json"]);
      expect(cleanup.code, cleanup.stderr).toBe(0);
      const report = JSON.parse(cleanup.stdout) as { bottles: Array<{ slug: string; reason: string }>; failures: unknown[] };
      expect(report.failures).toEqual([]);
      expect(report.bottles.find((b) => b.slug === slug)?.reason).toMatch(/start did not finish/);
      expect(labelled(slug)).toEqual({ containers: [], networks: [] });
      expect(existsSync(secrets)).toBe(false);
    });
  }
});

describe("two starts of one bottle racing", () => {
  for (const round of [1, 2, 3]) {
    it(`round ${round}: exactly one wins, the other says who holds the start, nothing is wedged`, async () => {
      const { slug } = plans.race!;
      const start = () =>
        new Promise<{ code: number; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, [cliBin, "start", "race", "--detach", "--no-build", "-f", manifestPath], { env, stdio: ["ignore", "ignore", "pipe"] });
          let stderr = "";
          child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
          child.on("exit", (code) => resolve({ code: code ?? 1, stderr }));
        });
      const results = await Promise.all([start(), start()]);
      const winners = results.filter((r) => r.code === 0);
      const losers = results.filter((r) => r.code !== 0);
      expect(winners, results.map((r) => r.stderr).join("\n---\n")).toHaveLength(1);
      expect(losers[0]!.code).toBe(2);
      expect(losers[0]!.stderr).toMatch(/is being started by another `bottle start` \(pid \d+, since \d{4}-/);

      // one bundle, one agent, one network of each kind
      const objects = labelled(slug);
      expect(objects.containers).toHaveLength(2);
      expect(objects.networks).toHaveLength(2);
      const ls = JSON.parse(bottle(["ls", "--json"]).stdout) as Array<{ slug: string; phase: string }>;
      expect(ls.find((r) => r.slug === slug)?.phase).toBe("ready");
      expect(bottle(["exec", slug, "--", "true"]).code).toBe(0);

      // A later start of the running bottle is refused and leaves its live approvals alone.
      const approvals = path.join(stateHome, "bottle", slug, "approved-routes.json");
      writeFileSync(approvals, "[\"approved while running\"]\n");
      const again = bottle(["start", "race", "--detach", "--no-build", "-f", manifestPath]);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain("already running");
      expect(readFileSync(approvals, "utf8")).toContain("approved while running");

      const stop = bottle(["stop", "race"]);
      expect(stop.code, stop.stderr).toBe(0);
      expect(labelled(slug)).toEqual({ containers: [], networks: [] });
    });
  }
});
