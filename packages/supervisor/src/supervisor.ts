import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import type { SupervisedDaemon, SupervisorConfig } from "./config.js";
import { catchesSignal } from "./signal-ready.js";

export type DaemonState = "starting" | "running" | "backoff" | "crash-looping" | "stopping" | "stopped";

export interface DaemonStatus {
  name: string;
  pid: number | null;
  state: DaemonState;
  restarts: number;
}

export interface SupervisorStatus {
  healthy: boolean;
  daemons: DaemonStatus[];
}

export interface SupervisorOptions {
  /** Receives every output line, already prefixed (`[egress] …`). Default: process.stdout. */
  log?: (line: string) => void;
  /** Address the health/control server binds. Default 0.0.0.0 (inside the bundle). */
  healthHost?: string;
  /** First restart delay; doubles on every consecutive crash. Default 250 ms. */
  backoffInitialMs?: number;
  /** Upper bound of the restart delay. Default 8 s. */
  backoffMaxMs?: number;
  /** A daemon restarted this many times within `crashLoopWindowMs` is given up on. Default 5. */
  crashLoopRestarts?: number;
  /** Default 60 s. */
  crashLoopWindowMs?: number;
  /** A run at least this long resets the backoff delay. Default 10 s. */
  stableAfterMs?: number;
  /**
   * Time budget for graceful shutdown, shared by all daemons in turn (each still gets at
   * least 0.5 s). Default 8 s.
   */
  graceMs?: number;
}

export interface Supervisor {
  /** Port the health/control server listens on (useful with healthPort 0). */
  readonly healthPort: number;
  status(): SupervisorStatus;
  /**
   * Sends `signal` to the named daemon. An unknown name or a daemon that is not running is
   * a logged no-op; returns whether a signal was delivered.
   */
  forwardSignal(signal: NodeJS.Signals, daemonName: string): boolean;
  /** Sends SIGHUP to every running `reloadable` daemon; returns their names. */
  reload(): string[];
  /** Stops every daemon in reverse start order (SIGTERM, then SIGKILL after the grace period). */
  stop(): Promise<void>;
}

interface Runtime {
  spec: SupervisedDaemon;
  state: DaemonState;
  child: ChildProcess | undefined;
  exited: Promise<void> | undefined;
  restarts: number;
  restartTimes: number[];
  attempt: number;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
}

/** Signals the host may forward through the control endpoint. */
export const FORWARDABLE_SIGNALS: readonly NodeJS.Signals[] = ["SIGHUP", "SIGUSR1", "SIGUSR2"];

/** Every daemon gets at least this long after SIGTERM, even once the shared budget is spent. */
const MIN_GRACE_MS = 500;

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

function isAlive(child: ChildProcess | undefined): child is ChildProcess & { pid: number } {
  return child !== undefined && child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // group already gone
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** How long a forwarded signal waits for a freshly started daemon to install its handler. */
const HANDLER_WAIT_MS = 10_000;

/** How long a restart waits for the last member of a killed group to be reaped. */
const GROUP_GONE_TIMEOUT_MS = 5_000;

/**
 * Kills what is left of a dead daemon's process group (helpers, a real server behind a
 * wrapper such as `git daemon`) and resolves once the group is empty, so the next start
 * does not meet a port still held by an orphan. Resolves false if it outlives the timeout.
 */
async function killWholeGroup(pgid: number, timeoutMs = GROUP_GONE_TIMEOUT_MS): Promise<boolean> {
  killGroup(pgid, "SIGKILL");
  const until = Date.now() + timeoutMs;
  while (groupAlive(pgid)) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/**
 * Starts every daemon of `config`, restarts the ones that die (exponential backoff, crash-loop
 * limit) and serves `GET /healthz` on `config.healthPort`. Installs no process signal handlers:
 * the bin wires SIGTERM/SIGINT to `stop()` and SIGHUP to `reload()`.
 */
export async function startSupervisor(config: SupervisorConfig, options: SupervisorOptions = {}): Promise<Supervisor> {
  const log = options.log ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const backoffInitialMs = options.backoffInitialMs ?? 250;
  const backoffMaxMs = options.backoffMaxMs ?? 8_000;
  const crashLoopRestarts = options.crashLoopRestarts ?? 5;
  const crashLoopWindowMs = options.crashLoopWindowMs ?? 60_000;
  const stableAfterMs = options.stableAfterMs ?? 10_000;
  const graceMs = options.graceMs ?? 8_000;
  const say = (text: string) => log(`[supervisor] ${text}`);

  const runtimes: Runtime[] = config.daemons.map((spec) => ({
    spec,
    state: "starting",
    child: undefined,
    exited: undefined,
    restarts: 0,
    restartTimes: [],
    attempt: 0,
    startedAt: 0,
    timer: undefined,
  }));
  let stopping = false;

  const pipeLines = (name: string, stream: NodeJS.ReadableStream | null) => {
    if (!stream) return;
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on("line", (line) => log(`[${name}] ${line}`));
  };

  const launch = (rt: Runtime) => {
    const { spec } = rt;
    const [file, ...args] = spec.command as [string, ...string[]];
    rt.state = "starting";
    rt.startedAt = Date.now();
    // detached: each daemon leads its own process group, so a final SIGKILL reaches its helpers too.
    const child = spawn(file, args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    rt.child = child;
    pipeLines(spec.name, child.stdout);
    pipeLines(spec.name, child.stderr);
    rt.exited = new Promise<void>((resolve) => {
      let done = false;
      const finish = (how: string) => {
        if (done) return;
        done = true;
        resolve();
        onDeath(rt, child, how);
      };
      child.once("spawn", () => {
        if (rt.child === child && rt.state === "starting") rt.state = "running";
        say(`${spec.name} started (pid ${child.pid})`);
      });
      // "exit", not "close": an orphaned grandchild may keep the stdio pipes open long after.
      child.once("exit", (code, signal) => finish(signal ? `killed by ${signal}` : `exited with code ${code}`));
      child.once("error", (error) => finish(`failed to start: ${error.message}`));
    });
  };

  const onDeath = (rt: Runtime, child: ChildProcess, how: string) => {
    if (rt.child !== child) return;
    if (stopping) {
      rt.state = "stopped";
      say(`${rt.spec.name} ${how}`);
      return;
    }
    const now = Date.now();
    if (now - rt.startedAt >= stableAfterMs) rt.attempt = 0;
    rt.restartTimes = rt.restartTimes.filter((t) => now - t < crashLoopWindowMs);
    if (rt.restartTimes.length >= crashLoopRestarts) {
      rt.state = "crash-looping";
      say(
        `!!! ${rt.spec.name} ${how} and is CRASH-LOOPING (${rt.restartTimes.length} restarts within ` +
          `${Math.round(crashLoopWindowMs / 1000)} s): not restarting it; health is red`,
      );
      return;
    }
    const delay = Math.min(backoffInitialMs * 2 ** rt.attempt, backoffMaxMs);
    rt.attempt += 1;
    rt.restartTimes.push(now);
    rt.state = "backoff";
    say(`${rt.spec.name} ${how}; restarting in ${delay} ms`);
    // The daemon leads its own process group: whatever it started dies with it before the
    // restart (the supervisor owns the whole tree, not just the pid it watches).
    const groupGone = child.pid === undefined ? Promise.resolve(true) : killWholeGroup(child.pid);
    const delayed = new Promise<void>((resolve) => {
      rt.timer = setTimeout(() => {
        rt.timer = undefined;
        resolve();
      }, delay);
    });
    void Promise.all([groupGone, delayed]).then(([gone]) => {
      if (stopping || rt.child !== child) return;
      if (!gone) say(`!!! ${rt.spec.name}: processes of its previous run outlived SIGKILL; restarting anyway`);
      rt.restarts += 1;
      launch(rt);
    });
  };

  const status = (): SupervisorStatus => {
    const daemons = runtimes.map((rt) => ({
      name: rt.spec.name,
      pid: isAlive(rt.child) ? rt.child.pid : null,
      state: rt.state,
      restarts: rt.restarts,
    }));
    return { healthy: !stopping && daemons.every((d) => d.state === "running"), daemons };
  };

  const forwardSignal = (signal: NodeJS.Signals, daemonName: string): boolean => {
    const rt = runtimes.find((r) => r.spec.name === daemonName);
    if (!rt) {
      say(`no daemon named "${daemonName}"; ${signal} not sent`);
      return false;
    }
    if (!isAlive(rt.child) || rt.state !== "running") {
      say(`${daemonName} is ${rt.state}; ${signal} not sent`);
      return false;
    }
    deliverWhenHandled(rt, rt.child, signal);
    return true;
  };

  // A daemon counts as running once spawned, but a Node daemon that has not yet run
  // process.on(signal) would be ended by the signal's default action. Hold the signal until
  // the process catches it (or HANDLER_WAIT_MS passes: then it does not handle it at all).
  const deliverWhenHandled = (rt: Runtime, child: ChildProcess & { pid: number }, signal: NodeJS.Signals) => {
    const until = Date.now() + HANDLER_WAIT_MS;
    let held = false;
    const attempt = () => {
      if (rt.child !== child || !isAlive(child)) return say(`${rt.spec.name} exited before ${signal} could be sent`);
      if (catchesSignal(child.pid, signal) === false && Date.now() < until) {
        if (!held) say(`${signal} → ${rt.spec.name} held until it installs its handler`);
        held = true;
        setTimeout(attempt, 25).unref();
        return;
      }
      child.kill(signal);
      say(`${signal} → ${rt.spec.name} (pid ${child.pid})`);
    };
    attempt();
  };

  const reload = (): string[] =>
    runtimes.filter((rt) => rt.spec.reloadable && forwardSignal("SIGHUP", rt.spec.name)).map((rt) => rt.spec.name);

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://supervisor");
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(`${JSON.stringify(body)}\n`);
    };
    if (req.method === "GET" && url.pathname === "/healthz") {
      const s = status();
      // The agent reaches this port too: it gets a bare answer; daemon names, states and
      // PIDs are for processes inside the bundle (loopback) only.
      if (!LOOPBACK.has(req.socket.remoteAddress ?? "")) return reply(s.healthy ? 200 : 503, { status: s.healthy ? "ok" : "unhealthy" });
      reply(s.healthy ? 200 : 503, { daemons: s.daemons });
      return;
    }
    if (req.method === "POST" && url.pathname === "/signal") {
      // The agent can reach this port over the internal network; only processes inside the
      // bundle (docker exec, machine exec) may signal daemons.
      if (!LOOPBACK.has(req.socket.remoteAddress ?? "")) {
        reply(403, { error: "signals are accepted from loopback only" });
        return;
      }
      const daemon = url.searchParams.get("daemon") ?? "";
      const raw = (url.searchParams.get("signal") ?? "HUP").toUpperCase();
      const signal = (raw.startsWith("SIG") ? raw : `SIG${raw}`) as NodeJS.Signals;
      if (!FORWARDABLE_SIGNALS.includes(signal)) {
        reply(400, { error: `signal must be one of ${FORWARDABLE_SIGNALS.join(", ")}` });
        return;
      }
      const known = runtimes.some((rt) => rt.spec.name === daemon);
      const forwarded = forwardSignal(signal, daemon);
      reply(known ? (forwarded ? 200 : 409) : 404, { daemon, signal, forwarded });
      return;
    }
    reply(404, { error: "not found" });
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.healthPort, options.healthHost ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const healthPort = (server.address() as AddressInfo).port;
  say(`health on port ${healthPort}; starting ${runtimes.map((rt) => rt.spec.name).join(", ") || "no daemons"}`);
  for (const rt of runtimes) launch(rt);

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      const deadline = Date.now() + graceMs;
      for (const rt of [...runtimes].reverse()) {
        if (rt.timer) clearTimeout(rt.timer);
        rt.timer = undefined;
        const child = rt.child;
        if (!isAlive(child)) {
          rt.state = "stopped";
          continue;
        }
        rt.state = "stopping";
        say(`stopping ${rt.spec.name} (SIGTERM)`);
        // The whole group: a wrapper's real server must stop as well, not be orphaned.
        killGroup(child.pid, "SIGTERM");
        // A daemon that stalled earlier must not cost the next ones their chance to exit cleanly.
        const left = Math.max(MIN_GRACE_MS, deadline - Date.now());
        let timeout: NodeJS.Timeout | undefined;
        const inTime = await Promise.race([
          rt.exited!.then(() => true),
          new Promise<boolean>((resolve) => {
            timeout = setTimeout(() => resolve(false), left);
          }),
        ]);
        clearTimeout(timeout);
        if (!inTime) {
          say(`${rt.spec.name} did not stop within the grace period; SIGKILL`);
          killGroup(child.pid, "SIGKILL");
          await rt.exited;
        }
        // Helpers the daemon left behind in its group go with it.
        killGroup(child.pid, "SIGKILL");
      }
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      say("all daemons stopped");
    })();
    return stopped;
  };

  return { healthPort, status, forwardSignal, reload, stop };
}
