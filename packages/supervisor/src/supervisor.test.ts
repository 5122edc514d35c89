import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { networkInterfaces } from "node:os";
import { fetchHealth, parseSupervisorConfig, requestSignal, startSupervisor } from "./index.js";
import type { SupervisedDaemon, Supervisor } from "./index.js";

let dir: string;
let running: Supervisor[] = [];
let lines: string[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "bottle-supervisor-"));
  lines = [];
});

afterEach(async () => {
  await Promise.all(running.map((s) => s.stop()));
  running = [];
  await rm(dir, { recursive: true, force: true });
});

async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}\n${lines.join("\n")}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A daemon written as a small node script; `signals` lines go to `<dir>/<name>.log`. */
async function daemon(name: string, body: string, extra: Partial<SupervisedDaemon> = {}): Promise<SupervisedDaemon> {
  const file = join(dir, `${name}.mjs`);
  await writeFile(
    file,
    `import { appendFileSync, existsSync, writeFileSync } from "node:fs";
const note = (what) => appendFileSync(${JSON.stringify(join(dir, `${name}.log`))}, what + "\\n");
${body}
`,
  );
  return { name, command: [process.execPath, file], env: {}, cwd: dir, reloadable: false, ...extra };
}

const forever = `setInterval(() => {}, 1000);`;
const recordSignals = `for (const s of ["SIGHUP", "SIGUSR1"]) process.on(s, () => note(s));
process.on("SIGTERM", () => { note("SIGTERM"); process.exit(0); });
console.log("ready");
${forever}`;

async function start(daemons: SupervisedDaemon[], options = {}) {
  const s = await startSupervisor(
    { healthPort: 0, daemons },
    { log: (l) => lines.push(l), healthHost: "127.0.0.1", backoffInitialMs: 20, ...options },
  );
  running.push(s);
  return s;
}

const readLog = async (name: string) =>
  existsSync(join(dir, `${name}.log`)) ? (await readFile(join(dir, `${name}.log`), "utf8")).trim().split("\n") : [];

describe("startSupervisor", () => {
  it("runs each daemon with its env and cwd and prefixes stdout and stderr lines", async () => {
    const d = await daemon(
      "egress",
      `console.log("out " + process.env.ROUTE_FILE + " " + process.cwd());
console.error("err line");
${forever}`,
      { env: { ROUTE_FILE: "/etc/bottle/routes.json" } },
    );
    const s = await start([d]);
    await waitFor(() => lines.includes(`[egress] out /etc/bottle/routes.json ${dir}`), "stdout line");
    await waitFor(() => lines.includes("[egress] err line"), "stderr line");
    expect(s.status().daemons[0]).toMatchObject({ name: "egress", state: "running", restarts: 0 });
  });

  it("restarts a daemon that dies", async () => {
    const d = await daemon(
      "flaky",
      `const marker = ${JSON.stringify(join(dir, "crashed-once"))};
if (!existsSync(marker)) { writeFileSync(marker, ""); console.log("crashing"); process.exit(3); }
console.log("second life");
${forever}`,
    );
    const s = await start([d]);
    await waitFor(() => lines.includes("[flaky] second life"), "restarted daemon");
    await waitFor(() => s.status().daemons[0]?.state === "running", "running state");
    expect(s.status().daemons[0]?.restarts).toBe(1);
    expect(lines.some((l) => l.startsWith("[supervisor] flaky exited with code 3; restarting in"))).toBe(true);
  });

  it("gives up on a crash-looping daemon, says so loudly and turns health red", async () => {
    const good = await daemon("egress", forever);
    const bad = await daemon("git-gate", `console.log("boom"); process.exit(1);`);
    const s = await start([good, bad], { crashLoopRestarts: 3, backoffInitialMs: 5 });
    await waitFor(() => s.status().daemons[1]?.state === "crash-looping", "crash-loop state");
    expect(s.status().daemons[1]?.restarts).toBe(3);
    expect(lines.filter((l) => l === "[git-gate] boom")).toHaveLength(4);
    expect(lines.some((l) => l.includes("git-gate exited with code 1 and is CRASH-LOOPING"))).toBe(true);
    const health = await fetchHealth(s.healthPort);
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({
      daemons: [
        { name: "egress", state: "running", restarts: 0 },
        { name: "git-gate", state: "crash-looping", restarts: 3, pid: null },
      ],
    });
  });

  it("counts a command that cannot start as a crash", async () => {
    const missing = { name: "egress", command: [join(dir, "no-such-binary")], env: {}, cwd: dir, reloadable: false };
    const s = await start([missing], { crashLoopRestarts: 2, backoffInitialMs: 5 });
    await waitFor(() => s.status().daemons[0]?.state === "crash-looping", "crash-loop state");
    expect(lines.some((l) => l.includes("egress failed to start: spawn") && l.includes("ENOENT"))).toBe(true);
  });

  it("serves 200 on /healthz once every daemon runs", async () => {
    const s = await start([await daemon("egress", forever), await daemon("supervise", forever)]);
    const health = await waitFor(async () => {
      const h = await fetchHealth(s.healthPort);
      return h.status === 200 ? h : undefined;
    }, "healthy");
    const body = health.body as { daemons: { name: string; pid: number; state: string }[] };
    expect(body.daemons.map((d) => [d.name, d.state])).toEqual([
      ["egress", "running"],
      ["supervise", "running"],
    ]);
    expect(body.daemons.every((d) => Number.isInteger(d.pid) && d.pid > 0)).toBe(true);
    expect((await fetchHealth(s.healthPort).then((h) => h.status))).toBe(200);
  });

  it("shows a client that is not on loopback (the agent) only a bare health answer", async () => {
    const s = await start([await daemon("egress", forever)], { healthHost: "0.0.0.0" });
    const address = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    expect(address, "a non-loopback IPv4 address on this machine").toBeDefined();
    const outside = await waitFor(async () => {
      const h = await fetchHealth(s.healthPort, address!);
      return h.status === 200 ? h : undefined;
    }, "healthy from outside");
    expect(outside.body).toEqual({ status: "ok" });
    expect(JSON.stringify(outside.body)).not.toMatch(/egress|pid/);
    // control: loopback (processes in the bundle) still gets the details
    const inside = await fetchHealth(s.healthPort, "127.0.0.1");
    expect((inside.body as { daemons: { name: string }[] }).daemons.map((d) => d.name)).toEqual(["egress"]);
  });

  it("forwards a signal to the named daemon only", async () => {
    const a = await daemon("egress", recordSignals, { reloadable: true });
    const b = await daemon("git-gate", recordSignals, { reloadable: true });
    const s = await start([a, b]);
    await waitFor(() => lines.includes("[egress] ready") && lines.includes("[git-gate] ready"), "daemons ready");
    expect(s.forwardSignal("SIGHUP", "git-gate")).toBe(true);
    await waitFor(async () => (await readLog("git-gate")).includes("SIGHUP"), "HUP delivered");
    await s.stop();
    // Both got SIGTERM at stop; only git-gate saw the HUP before it.
    expect(await readLog("git-gate")).toEqual(["SIGHUP", "SIGTERM"]);
    expect(await readLog("egress")).toEqual(["SIGTERM"]);
  });

  it("holds a SIGHUP until a freshly started daemon has installed its handler, instead of killing it", async () => {
    // Like egress under load: the process is spawned (state running) well before its code
    // reaches process.on("SIGHUP"); the default action would end it.
    const slow = await daemon(
      "egress",
      `const until = Date.now() + 700; while (Date.now() < until) {}
${recordSignals}`,
      { reloadable: true },
    );
    const s = await start([slow]);
    await waitFor(() => s.status().daemons[0]?.state === "running", "spawned");
    expect(s.reload()).toEqual(["egress"]);
    await waitFor(async () => (await readLog("egress")).includes("SIGHUP"), "HUP delivered");
    expect(s.status().daemons[0]).toMatchObject({ state: "running", restarts: 0 });
    expect(lines.some((l) => l.includes("killed by SIGHUP"))).toBe(false);
    await s.stop();
  });

  it("reload() sends SIGHUP to reloadable daemons only", async () => {
    const a = await daemon("egress", recordSignals, { reloadable: true });
    const b = await daemon("git-gate", recordSignals, { reloadable: false });
    const s = await start([a, b]);
    await waitFor(() => lines.includes("[egress] ready") && lines.includes("[git-gate] ready"), "daemons ready");
    expect(s.reload()).toEqual(["egress"]);
    await waitFor(async () => (await readLog("egress")).includes("SIGHUP"), "HUP delivered");
    await s.stop();
    expect(await readLog("egress")).toEqual(["SIGHUP", "SIGTERM"]);
    expect(await readLog("git-gate")).toEqual(["SIGTERM"]);
  });

  it("treats an unknown daemon name as a logged no-op", async () => {
    const a = await daemon("egress", recordSignals, { reloadable: true });
    const s = await start([a]);
    await waitFor(() => lines.includes("[egress] ready"), "ready");
    expect(s.forwardSignal("SIGHUP", "nope")).toBe(false);
    expect(lines).toContain('[supervisor] no daemon named "nope"; SIGHUP not sent');
    const res = await requestSignal(s.healthPort, "nope", "HUP");
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ forwarded: false });
    expect(s.status().daemons[0]?.state).toBe("running");
    await s.stop();
    expect(await readLog("egress")).toEqual(["SIGTERM"]);
  });

  it("forwards a signal by name over the loopback control endpoint", async () => {
    const a = await daemon("egress", recordSignals, { reloadable: true });
    const s = await start([a]);
    await waitFor(() => lines.includes("[egress] ready"), "ready");
    const res = await requestSignal(s.healthPort, "egress", "USR1");
    expect(res).toMatchObject({ status: 200, body: { daemon: "egress", signal: "SIGUSR1", forwarded: true } });
    expect((await requestSignal(s.healthPort, "egress", "KILL")).status).toBe(400);
    await waitFor(async () => (await readLog("egress")).includes("SIGUSR1"), "USR1 delivered");
  });

  it("stops daemons in reverse start order and kills those that ignore SIGTERM", async () => {
    const order = join(dir, "order");
    const polite = (name: string) =>
      daemon(
        name,
        `process.on("SIGTERM", () => { appendFileSync(${JSON.stringify(order)}, "${name}\\n"); setTimeout(() => process.exit(0), 50); });
console.log("ready");
${forever}`,
      );
    const stubborn = await daemon("pipelock", `process.on("SIGTERM", () => note("ignored"));\nconsole.log("ready");\n${forever}`);
    const s = await start([stubborn, await polite("egress"), await polite("git-gate"), await polite("supervise")], {
      graceMs: 1_500,
    });
    await waitFor(() => lines.filter((l) => l.endsWith(" ready")).length === 4, "all ready");
    const pids = s.status().daemons.map((d) => d.pid!);
    await s.stop();
    expect((await readFile(order, "utf8")).trim().split("\n")).toEqual(["supervise", "git-gate", "egress"]);
    expect(await readLog("pipelock")).toEqual(["ignored"]);
    expect(lines).toContain("[supervisor] pipelock did not stop within the grace period; SIGKILL");
    expect(s.status().daemons.map((d) => d.state)).toEqual(["stopped", "stopped", "stopped", "stopped"]);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
  });
});

describe("process trees", () => {
  /** A wrapper (sh) whose real server is its child, like `git daemon`: the supervisor watches sh. */
  async function wrappedServer(name: string) {
    const server = join(dir, `${name}-server.mjs`);
    await writeFile(
      server,
      `import { createServer } from "node:net";
import { appendFileSync } from "node:fs";
const srv = createServer((socket) => socket.end(String(process.pid) + "\\n"));
srv.listen(0, "127.0.0.1", () => {
  appendFileSync(${JSON.stringify(join(dir, `${name}.ports`))}, process.pid + " " + srv.address().port + "\\n");
});
`,
    );
    // `wait` keeps sh as the parent of the server; its port is what a restart must get back.
    return { name, command: ["sh", "-c", `"${process.execPath}" "${server}" & wait`], env: {}, cwd: dir, reloadable: false } satisfies SupervisedDaemon;
  }
  const servers = async (name: string) =>
    existsSync(join(dir, `${name}.ports`))
      ? (await readFile(join(dir, `${name}.ports`), "utf8")).trim().split("\n").map((l) => l.split(" ").map(Number) as [number, number])
      : [];
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
    } catch {
      return false;
    }
  };

  it("kills the whole process group of a daemon that died before restarting it", async () => {
    const s = await start([await wrappedServer("gate")], { backoffInitialMs: 50 });
    const [firstServer] = await waitFor(async () => ((await servers("gate")).length === 1 ? servers("gate") : undefined), "first server");
    const wrapper = s.status().daemons[0]!.pid!;
    expect(wrapper).not.toBe(firstServer![0]);

    process.kill(wrapper, "SIGKILL");
    // the supervisor restarts the wrapper, and a new server comes up
    await waitFor(async () => (await servers("gate")).length === 2 && s.status().daemons[0]!.state === "running", "second server");
    // the first run's server (the wrapper's child, in its group) did not outlive it
    expect(alive(firstServer![0])).toBe(false);
    expect(s.status().daemons[0]).toMatchObject({ state: "running", restarts: 1 });
    expect(s.status().daemons[0]!.pid).not.toBe(wrapper);
  });

  it("stops a wrapper's children too", async () => {
    const s = await start([await wrappedServer("gate2")]);
    const [server] = await waitFor(async () => ((await servers("gate2")).length === 1 ? servers("gate2") : undefined), "server");
    await s.stop();
    expect(alive(server![0])).toBe(false);
  });
});

describe("parseSupervisorConfig", () => {
  it("fills defaults and rejects bad entries with a BottleError", () => {
    expect(parseSupervisorConfig({ healthPort: 9000, daemons: [{ name: "egress", command: ["x"] }] })).toEqual({
      healthPort: 9000,
      daemons: [{ name: "egress", command: ["x"], env: {}, cwd: "/", reloadable: false }],
    });
    expect(() => parseSupervisorConfig({ healthPort: 9000, daemons: [{ name: "egress", command: [] }] })).toThrow(
      /command must be a non-empty array/,
    );
    expect(() =>
      parseSupervisorConfig({
        healthPort: 9000,
        daemons: [
          { name: "egress", command: ["x"] },
          { name: "egress", command: ["y"] },
        ],
      }),
    ).toThrow(/appears twice/);
    try {
      parseSupervisorConfig({ daemons: [] });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: "SUPERVISOR_CONFIG_INVALID" });
    }
  });
});
