import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import type { Writable } from "node:stream";
import { BottleError } from "@bottle/errors";
import { DEFAULT_IMAGES, LABELS, type BottlePlan } from "@bottle/plan";
import { assertReady } from "@bottle/backend";
import { bottlePhase, pidAlive, readMetadata, stateDirFor } from "@bottle/state";
export { assertReady };
import { ROLE_LABEL, SERVICES, STATE_DIR_LABEL } from "./compose.js";
import { checkEngine, detectCompose, DockerCli } from "./engine.js";
import { DEFAULT_TOOLS, run, type DockerTools } from "./exec.js";

interface Connect {
  cli?: DockerCli;
  tools?: DockerTools;
}

async function connect(options: Connect): Promise<DockerCli> {
  return options.cli ?? DockerCli.connect(options.tools);
}

export interface ContainerStatus {
  name: string;
  /** `running`, `exited`, `created`, … */
  state: string;
  /** `healthy`, `unhealthy`, `starting`, or undefined when the container has no healthcheck. */
  health?: string;
}

export interface BottleStatus {
  slug: string;
  bottle: string;
  project?: string;
  stateDir?: string;
  /**
   * From the state dir's metadata: "ready" once fenced and provisioned; "starting" while a
   * start runs; "interrupted" when that start died (an orphan for cleanup); "stopped".
   * Undefined when there is no metadata. Only a "ready" bottle is running for anyone's use.
   */
  phase?: "ready" | "starting" | "interrupted" | "stopped";
  bundle?: ContainerStatus;
  agent?: ContainerStatus;
}

interface InspectedContainer {
  Id: string;
  Name: string;
  State: { Status: string; Health?: { Status: string } };
  Config: { Labels: Record<string, string> | null };
}

/** Every bottle the engine knows about (by label), one row per slug, sorted. */
export async function listBottles(options: Connect = {}): Promise<BottleStatus[]> {
  const cli = await connect(options);
  const ids = (await cli.dockerOk(["ps", "-a", "-q", "--filter", `label=${LABELS.managed}=true`], { what: "listing containers" })).split("\n").filter(Boolean);
  if (!ids.length) return [];
  const inspected = JSON.parse(await cli.dockerOk(["inspect", "--type", "container", ...ids], { what: "inspecting containers" })) as InspectedContainer[];
  const rows = new Map<string, BottleStatus>();
  for (const c of inspected) {
    const labels = c.Config.Labels ?? {};
    const slug = labels[LABELS.slug] ?? "";
    const row = rows.get(slug) ?? { slug, bottle: labels[LABELS.bottle] ?? "" };
    const project = labels["com.docker.compose.project"];
    if (project) row.project = project;
    if (labels[STATE_DIR_LABEL]) row.stateDir = labels[STATE_DIR_LABEL];
    const status: ContainerStatus = { name: c.Name.replace(/^\//, ""), state: c.State.Status, ...(c.State.Health ? { health: c.State.Health.Status } : {}) };
    const role = labels[ROLE_LABEL] ?? labels["com.docker.compose.service"];
    if (role === SERVICES.bundle) row.bundle = status;
    else if (role === SERVICES.agent) row.agent = status;
    rows.set(slug, row);
  }
  for (const row of rows.values()) {
    const metadata = await readMetadata(row.stateDir ?? stateDirFor(row.slug));
    if (metadata) row.phase = bottlePhase(metadata, pidAlive);
  }
  return [...rows.values()].sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
}

/** The container of one role of a bottle, found by labels. */
export async function findContainer(cli: DockerCli, slug: string, role: keyof typeof SERVICES): Promise<string> {
  return (await findContainerWithState(cli, slug, role)).name;
}

async function findContainerWithState(cli: DockerCli, slug: string, role: keyof typeof SERVICES): Promise<{ name: string; stateDir: string }> {
  const out = await cli.dockerOk(
    ["ps", "-a", "--filter", `label=${LABELS.slug}=${slug}`, "--filter", `label=${ROLE_LABEL}=${role}`, "--format", `{{.Names}}\t{{.Label "${STATE_DIR_LABEL}"}}`],
    { what: "finding the container" },
  );
  const line = out.split("\n").find(Boolean);
  if (!line) {
    throw new BottleError(`bottle ${slug} has no ${role} container`, { code: "BOTTLE_NOT_RUNNING", hint: "Start it with `bottle start`; `bottle ls` lists running bottles." });
  }
  const [name, stateDir] = line.split("\t");
  return { name: name!, stateDir: stateDir || stateDirFor(slug) };
}

export interface LogsOptions extends Connect {
  /** A bundle daemon (`egress`, `git-gate`, `supervise`, `pipelock`, `supervisor`) or `agent`. Default: the whole bundle. */
  sidecar?: string;
  follow?: boolean;
  /** Lines from the end (default: all). */
  tail?: number;
  /** Where lines go. Default: process.stdout. */
  output?: Writable;
}

/**
 * Streams a bottle's logs. The bundle's log is the supervisor's output, where every daemon
 * line is prefixed `[name] `; `sidecar` keeps only that daemon's lines. Resolves with the
 * exit code of `docker logs`.
 */
export async function logs(slug: string, options: LogsOptions = {}): Promise<number> {
  const cli = await connect(options);
  const role = options.sidecar === SERVICES.agent ? SERVICES.agent : SERVICES.bundle;
  const container = await findContainer(cli, slug, role);
  const args = ["logs", ...(options.follow ? ["--follow"] : []), ...(options.tail !== undefined ? ["--tail", String(options.tail)] : []), container];
  const output = options.output ?? process.stdout;
  const prefix = role === SERVICES.bundle && options.sidecar ? `[${options.sidecar}] ` : undefined;
  const child = spawn(cli.tools.docker, args, { stdio: ["ignore", "pipe", "pipe"] });
  let pending = 2;
  const done = new Promise<void>((resolve) => {
    for (const stream of [child.stdout, child.stderr]) {
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on("line", (line) => {
        if (!prefix || line.startsWith(prefix)) output.write(`${line}\n`);
      });
      lines.on("close", () => {
        if (--pending === 0) resolve();
      });
    }
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (exitCode) => resolve(exitCode ?? 1));
  });
  await done;
  return code;
}

export interface ExecOptions extends Connect {
  /** Default: the plan's agent user, `node`. */
  user?: string;
  workdir?: string;
  /** Allocate a TTY. Default: when stdin is a TTY. */
  tty?: boolean;
}

/** Runs a command in the agent with inherited stdio (`docker exec -i [-t] -u node …`); resolves with its exit code. */
export async function execInAgent(slug: string, command: readonly string[], options: ExecOptions = {}): Promise<number> {
  const cli = await connect(options);
  const { name: container, stateDir } = await findContainerWithState(cli, slug, SERVICES.agent);
  // Nothing runs in an agent that is not yet (or never was) fenced and provisioned.
  await assertReady(slug, stateDir);
  return dockerExecInherit(cli, container, command, { user: options.user ?? "node", ...(options.workdir ? { workdir: options.workdir } : {}), ...(options.tty !== undefined ? { tty: options.tty } : {}) });
}

/** Like execInAgent, with the output collected instead of printed (no TTY, no stdin). */
export async function captureInAgent(slug: string, command: readonly string[], options: Omit<ExecOptions, "tty"> = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const cli = await connect(options);
  const { name: container, stateDir } = await findContainerWithState(cli, slug, SERVICES.agent);
  await assertReady(slug, stateDir);
  const result = await cli.docker(["exec", "-u", options.user ?? "node", ...(options.workdir ? ["-w", options.workdir] : []), container, ...command]);
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

export interface AttachOptions extends Connect {
  /** Default: plan.agent.command. */
  command?: readonly string[];
  tty?: boolean;
}

/**
 * Runs the agent's command in its container with the terminal attached
 * (`docker exec -it -u node -w /workspace <agent> <command…>`; no `-t` when stdin is not a
 * TTY). Resolves with the command's exit code.
 */
export async function attachAgent(plan: BottlePlan, options: AttachOptions = {}): Promise<number> {
  const cli = await connect(options);
  return dockerExecInherit(cli, plan.machines.agent, options.command ?? plan.agent.command, {
    user: plan.agent.user,
    workdir: plan.agent.workdir,
    ...(options.tty !== undefined ? { tty: options.tty } : {}),
  });
}

/**
 * `docker exec` does not end the process it started when the client goes away (a closed
 * terminal, a killed CLI): it would keep running in the agent. So the command runs under a
 * small wrapper that records its session id (every `docker exec` process leads its own
 * session), and when the client ends — or this process is told to hang up or terminate —
 * the whole session in the container gets SIGHUP, then SIGKILL. The kill runs as the
 * command's user, so a tampered pid file can reach nothing but that user's processes.
 */
function dockerExecInherit(cli: DockerCli, container: string, command: readonly string[], options: { user: string; workdir?: string; tty?: boolean }): Promise<number> {
  const tty = options.tty ?? Boolean(process.stdin.isTTY);
  const pidFile = `/tmp/.bottle-session-${randomBytes(6).toString("hex")}`;
  const wrapped = ["sh", "-c", 'echo $$ > "$1"; shift; exec "$@"', "sh", pidFile, ...command];
  const args = ["exec", "-i", ...(tty ? ["-t"] : []), "-u", options.user, ...(options.workdir ? ["-w", options.workdir] : []), container, ...wrapped];
  return new Promise<number>((resolve, reject) => {
    const child = spawn(cli.tools.docker, args, { stdio: "inherit" });
    const hangUp = (signal: NodeJS.Signals) => () => {
      child.kill(signal);
    };
    const onHup = hangUp("SIGHUP");
    const onTerm = hangUp("SIGTERM");
    process.on("SIGHUP", onHup);
    process.on("SIGTERM", onTerm);
    child.on("error", (error) => {
      process.off("SIGHUP", onHup);
      process.off("SIGTERM", onTerm);
      reject(error);
    });
    child.on("close", (code, signal) => {
      process.off("SIGHUP", onHup);
      process.off("SIGTERM", onTerm);
      void endSession(cli, container, options.user, pidFile).finally(() => resolve(code ?? (signal ? 128 + (signalNumbers[signal] ?? 1) : 1)));
    });
  });
}

/** Ends what is left of an exec session in the container (see dockerExecInherit). */
export const END_SESSION_SCRIPT = `f="$1"; [ -f "$f" ] || exit 0
sid=$(cat "$f"); rm -f "$f"
case "$sid" in ''|*[!0-9]*) exit 0 ;; esac
[ "$sid" -gt 1 ] || exit 0
pkill -HUP -s "$sid" 2>/dev/null || true
for i in 1 2 3 4 5 6 7 8 9 10; do pgrep -s "$sid" >/dev/null 2>&1 || exit 0; sleep 0.2; done
pkill -KILL -s "$sid" 2>/dev/null || true
`;

async function endSession(cli: DockerCli, container: string, user: string, pidFile: string): Promise<void> {
  await run(cli.tools.docker, ["exec", "-u", user, container, "sh", "-c", END_SESSION_SCRIPT, "sh", pidFile], { timeoutMs: 15_000 }).catch(() => undefined);
}

const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * Asks the bundle to re-read its config: SIGHUP to PID 1 (the supervisor), which forwards
 * it to every reloadable daemon. Write the new files (temp-then-rename) first.
 */
export async function reloadBundle(plan: BottlePlan, options: Connect = {}): Promise<void> {
  const cli = await connect(options);
  const container = await findContainer(cli, plan.slug, SERVICES.bundle);
  await cli.dockerOk(["kill", "--signal", "HUP", container], { what: `signalling ${container}` });
}

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  hint?: string;
}

/** Engine, compose and image checks, never throwing: one row per check. */
export async function doctor(options: { tools?: DockerTools; images?: string[] } = {}): Promise<{ ok: boolean; checks: DoctorCheck[] }> {
  const tools = options.tools ?? DEFAULT_TOOLS;
  const checks: DoctorCheck[] = [];
  const attempt = async (name: string, fn: () => Promise<string>) => {
    try {
      checks.push({ name, ok: true, detail: await fn() });
      return true;
    } catch (error) {
      const e = error as BottleError;
      checks.push({ name, ok: false, detail: e.message, ...(BottleError.isInstance(e) && e.hint ? { hint: e.hint } : {}) });
      return false;
    }
  };
  const engine = await attempt("docker engine", async () => `server ${(await checkEngine(tools)).serverVersion}`);
  await attempt("compose", async () => {
    const c = await detectCompose(tools);
    return `${c.argv.join(" ")} ${c.version} (${c.flavour})`;
  });
  if (engine) {
    for (const image of options.images ?? [DEFAULT_IMAGES.sidecars, DEFAULT_IMAGES.agent]) {
      const result = await run(tools.docker, ["image", "inspect", "--format", "{{.Id}}", image]);
      checks.push(
        result.exitCode === 0
          ? { name: `image ${image}`, ok: true, detail: result.stdout.slice(0, 19) }
          : { name: `image ${image}`, ok: false, detail: "not found in the local engine", hint: "Build the images: `bottle build` (or `bottle build --offline-base` without a registry)." },
      );
    }
  }
  return { ok: checks.every((c) => c.ok), checks };
}
