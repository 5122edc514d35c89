import { writeFile } from "node:fs/promises";
import { BottleError } from "@bottle/errors";
import { LABELS, type BottlePlan } from "@bottle/plan";
import { openStartRecord, type StartRecord } from "@bottle/backend";
import { stateLayout, writeSecretFiles } from "@bottle/state";
import { renderCompose, SERVICES, type RenderComposeOptions } from "./compose.js";
import { DockerCli, commandError } from "./engine.js";
import { tail, type DockerTools } from "./exec.js";
import { createNetworks, removeNetworks, type BottleNetworks } from "./networks.js";
import type { ProgressListener } from "./progress.js";
import { provisionAgent, type ProvisionReport } from "./provision.js";
import { fenceAgentNetwork } from "./fence.js";
import { assertAgentRuntime } from "./runtimes.js";
import { tearDownFailedStart } from "./teardown.js";

export interface LaunchOptions {
  /** `<state>`: absolute; see stateDirFor(plan.slug) in @bottle/state. */
  stateDir: string;
  /** Secret values by planned secret id (read from the host by the caller); written 0600 for the bundle. */
  secrets?: Readonly<Record<string, string>>;
  /**
   * Writes the bundle's config (routes.json, daemons.json, pipelock.yaml, git-gate/, ca/)
   * into `<state>/config`. Called after the networks exist, so pipelock.yaml can use the
   * internal subnet, and before any container starts.
   */
  writeBundleFiles?: (context: { stateDir: string; networks: BottleNetworks }) => Promise<void> | void;
  /** PID recorded in metadata.json as the bottle's holder. Default: this process; `null` = detached. */
  holderPid?: number | null;
  /** Run the preflight checks (default true; false when startBottle already ran the backend's preflight). */
  preflight?: boolean;
  /** The readiness record when startBottle (@bottle/backend) owns it; otherwise this function opens one. */
  start?: StartRecord;
  /** Skip provisioning (tests with stand-in images; the CLI never sets it). */
  provision?: boolean;
  healthTimeoutMs?: number;
  compose?: Omit<RenderComposeOptions, "stateDir">;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
  /** An already connected CLI (otherwise one is connected: engine check + compose detection). */
  cli?: DockerCli;
  tools?: DockerTools;
}

/** A running bottle, as `launchBottle` returns it. */
export interface BottleHandle {
  plan: BottlePlan;
  stateDir: string;
  composeFile: string;
  project: string;
  containers: { bundle: string; agent: string };
  networks: BottleNetworks;
  provision?: ProvisionReport;
}

/**
 * Brings a bottle up: state dir, networks, bundle config; then `compose up` of the bundle and,
 * once that returned, of the agent (`--no-deps`); then, side by side, the bundle's health wait, the network fence once the
 * bundle has an address, and provisioning (which only writes files and the agent's config,
 * and waits for the fence before it returns, as does this function: no agent command is
 * attached before the fence is in place). Whatever it created is torn down again if any
 * step fails or `signal` aborts.
 */
export async function launchBottle(plan: BottlePlan, options: LaunchOptions): Promise<BottleHandle> {
  const progress = options.onProgress ?? (() => {});
  const signal = options.signal;
  const sig = signal ? { signal } : {};
  const checkAbort = () => {
    if (signal?.aborted) throw new BottleError("start was interrupted", { code: "LAUNCH_ABORTED", cause: signal.reason });
  };
  const cli = options.cli ?? (await DockerCli.connect(options.tools));
  // Compose v1 detection is a Python start-up: let it overlap the preflight and networks.
  const compose = cli.composeCommand();
  progress({ step: "preflight", message: "docker engine ok" });

  if (options.preflight !== false) await preflightLaunch(cli, plan);

  // Until the agent is fenced and provisioned, the bottle is "starting" and held by this
  // process: `ls` does not list it as running, `exec` refuses it, and `cleanup` takes it
  // for an orphan once this process is gone. Written before anything exists in the engine,
  // so `cleanup` can always judge leftovers (by startBottle of @bottle/backend, or here).
  const ownRecord = options.start === undefined;
  const start = options.start ?? (await openStartRecord(options.stateDir, plan, options.holderPid === undefined ? {} : { holderPid: options.holderPid }));
  const composeFile = stateLayout(options.stateDir).composeFile;
  await start.record({ composeFile });
  progress({ step: "state", message: `state dir ${options.stateDir}` });

  let networks: BottleNetworks | undefined;
  let composeStarted = false;
  try {
    checkAbort();
    networks = await createNetworks(cli, plan, { stateDir: options.stateDir, ...sig });
    progress({ step: "networks", message: `networks ${networks.internal.name} (${networks.internal.subnet}, internal) and ${networks.egress.name}` });

    if (options.secrets) await writeSecretFiles(plan, options.stateDir, options.secrets);
    await options.writeBundleFiles?.({ stateDir: options.stateDir, networks });
    await writeFile(composeFile, renderCompose(plan, { ...options.compose, stateDir: options.stateDir }), { mode: 0o600 });
    await start.record({ internalSubnet: networks.internal.subnet });
    progress({ step: "config", message: `compose file ${composeFile}` });

    const composeCommand = await compose;
    checkAbort();
    composeStarted = true;
    const healthTimeoutMs = options.healthTimeoutMs ?? 120_000;
    // The bundle and the agent come up side by side (the agent only runs `sleep infinity`
    // until something is attached), so the agent's provisioning overlaps the bundle's boot.
    // A failure on either side stops the other (`inner`), and the first one is reported.
    const inner = new AbortController();
    const both = { signal: signal ? AbortSignal.any([signal, inner.signal]) : inner.signal };
    let firstError: unknown;
    const guard = <T>(work: Promise<T>): Promise<T> =>
      work.catch((error: unknown) => {
        if (firstError === undefined) firstError = error;
        inner.abort(error);
        throw error;
      });
    const bundleUp = guard(composeUp(cli, plan, composeFile, [SERVICES.bundle], both));
    // One `compose up` at a time: two of one project side by side race in compose v1 (one
    // lists a container the other is still creating → "No such container"). The agent's
    // provisioning still overlaps the bundle's health wait, where the time goes.
    const agentUp = guard(bundleUp.then(() => composeUp(cli, plan, composeFile, ["--no-deps", SERVICES.agent], both)));
    const bundleHealthy = guard(
      (async () => {
        await bundleUp;
        progress({ step: "compose-up", message: `bundle ${plan.machines.bundle} started (compose ${composeCommand.flavour} ${composeCommand.version})` });
        await waitHealthy(cli, plan.machines.bundle, { timeoutMs: healthTimeoutMs, intervalMs: 200, ...both });
        progress({ step: "health", message: "bundle healthy" });
      })(),
    );
    // The fence needs the bundle's address (it has one once started, healthy or not).
    // Provisioning only writes files and the agent's config; it waits for the fence before
    // it returns, and so does this function: no agent command meets an unfenced container.
    const agentReady = guard(
      (async () => {
        await agentUp;
        await waitRunning(cli, plan.machines.agent);
        progress({ step: "compose-up", message: `agent ${plan.machines.agent} started` });
        const fence = guard(bundleUp.then(() => fenceAgentNetwork(cli, plan, progress)));
        if (options.provision === false) {
          await fence;
          return undefined;
        }
        return provisionAgent(cli, plan, {
          stateDir: options.stateDir,
          container: plan.machines.agent,
          onProgress: progress,
          fence,
          ...(options.compose?.homeDir ? { homeDir: options.compose.homeDir } : {}),
          ...both,
        });
      })(),
    );
    // Nothing may still be running against the containers when a failure tears them down.
    const [, provisioned] = await Promise.allSettled([bundleHealthy, agentReady]);
    checkAbort();
    if (firstError !== undefined) throw firstError;
    const handle: BottleHandle = {
      plan,
      stateDir: options.stateDir,
      composeFile,
      project: plan.composeProject,
      containers: { ...plan.machines },
      networks,
    };
    if (provisioned?.status === "fulfilled" && provisioned.value) handle.provision = provisioned.value;
    // Written last: only now is the bottle usable (fenced, provisioned).
    if (ownRecord) await start.ready();
    progress({ step: "ready", message: `bottle ${plan.bottle} is ready` });
    return handle;
  } catch (error) {
    progress({ step: "teardown", message: "start failed: removing what was created", level: "warn" });
    if (composeStarted || networks) await tearDownFailedStart(cli, plan, options.stateDir, networks ? [networks.internal.id, networks.egress.id] : []);
    // Marked stopped; the secrets were written for a bundle that no longer exists.
    if (ownRecord) await start.failed();
    throw error;
  }
}

/**
 * What would make a launch fail at once, checked before anything is created or written:
 * the bottle already running (or its leftovers), a missing image, an agent runtime the
 * engine does not list. Concurrent.
 */
export async function preflightLaunch(cli: DockerCli, plan: BottlePlan): Promise<void> {
  await Promise.all([assertNotRunning(cli, plan), assertImages(cli, [plan.bundle.image, plan.agent.image]), assertAgentRuntime(plan, cli.tools)]);
}

async function composeUp(cli: DockerCli, plan: BottlePlan, file: string, services: string[], sig: { signal?: AbortSignal }): Promise<void> {
  const result = await cli.composeRun(plan.composeProject, file, ["up", "-d", "--no-build", ...services], sig);
  if (sig.signal?.aborted) throw new BottleError("start was interrupted", { code: "LAUNCH_ABORTED", cause: sig.signal.reason });
  if (result.exitCode !== 0) {
    throw commandError(`compose up ${services.join(" ")}`, [...(await cli.composeCommand()).argv, "-p", plan.composeProject, "-f", file, "up", "-d", "--no-build", ...services], result);
  }
}

interface ContainerState {
  Status: string;
  ExitCode: number;
  Health?: { Status: string; Log?: Array<{ ExitCode: number; Output: string }> };
}

async function containerState(cli: DockerCli, container: string): Promise<ContainerState | undefined> {
  const result = await cli.docker(["inspect", "--type", "container", "--format", "{{json .State}}", container]);
  return result.exitCode === 0 ? (JSON.parse(result.stdout) as ContainerState) : undefined;
}

/**
 * Polls `docker inspect` until the container's healthcheck reports healthy. Fails early
 * when the container exits or turns unhealthy, and on timeout; the error carries its logs.
 */
export async function waitHealthy(cli: DockerCli, container: string, options: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let last: ContainerState | undefined;
  for (;;) {
    last = await containerState(cli, container);
    if (last?.Health?.Status === "healthy") return;
    const stopped = last && !["running", "created", "restarting"].includes(last.Status);
    if (!last || stopped || last.Health?.Status === "unhealthy" || Date.now() > deadline || options.signal?.aborted) break;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 500));
  }
  if (options.signal?.aborted) throw new BottleError("start was interrupted", { code: "LAUNCH_ABORTED", cause: options.signal.reason });
  throw await bundleUnhealthy(cli, container, last, last && last.Status === "running" && last.Health?.Status !== "unhealthy" ? `it was not healthy after ${Math.round(options.timeoutMs / 1000)} s` : undefined);
}

async function bundleUnhealthy(cli: DockerCli, container: string, last: ContainerState | undefined, timedOut?: string): Promise<BottleError> {
  const logs = await cli.docker(["logs", "--tail", "60", container]);
  const probe = last?.Health?.Log?.at(-1);
  const why = !last
    ? "it does not exist"
    : last.Status !== "running"
      ? `it ${last.Status} (exit code ${last.ExitCode})`
      : last.Health?.Status === "unhealthy"
        ? "its healthcheck failed"
        : (timedOut ?? "it was not healthy");
  return new BottleError(
    `the sidecar bundle ${container} did not become healthy: ${why}` +
      (probe ? `\nlast health probe (exit ${probe.ExitCode}): ${tail(probe.Output, 5)}` : "") +
      `\n--- ${container} logs ---\n${tail(`${logs.stdout}\n${logs.stderr}`, 60) || "(empty)"}`,
    {
      code: "BUNDLE_UNHEALTHY",
      hint: "The logs above come from the supervisor and its daemons; check the rendered config under <state>/config and `bottle doctor`.",
    },
  );
}

async function waitRunning(cli: DockerCli, container: string): Promise<void> {
  const state = await containerState(cli, container);
  if (state?.Status === "running") return;
  const logs = await cli.docker(["logs", "--tail", "30", container]);
  throw new BottleError(`the agent container ${container} is not running (${state ? `${state.Status}, exit ${state.ExitCode}` : "missing"})\n${tail(`${logs.stdout}\n${logs.stderr}`, 30)}`, {
    code: "AGENT_NOT_RUNNING",
    hint: "The agent image must keep `sleep infinity` running as its command.",
  });
}

async function assertNotRunning(cli: DockerCli, plan: BottlePlan): Promise<void> {
  const filter = ["--filter", `label=${LABELS.slug}=${plan.slug}`];
  const [containers, networks] = await Promise.all([
    cli.dockerOk(["ps", "-a", "-q", ...filter], { what: "listing containers" }),
    cli.dockerOk(["network", "ls", "-q", ...filter], { what: "listing networks" }),
  ]);
  if (containers.trim() || networks.trim()) {
    throw new BottleError(`bottle "${plan.bottle}" (${plan.slug}) is already running or left containers/networks behind`, {
      code: "BOTTLE_ALREADY_RUNNING",
      hint: `Stop it with \`bottle stop ${plan.bottle}\`, or remove leftovers of interrupted runs with \`bottle cleanup\`.`,
    });
  }
}

async function assertImages(cli: DockerCli, images: string[]): Promise<void> {
  const unique = [...new Set(images)];
  const found = await Promise.all(unique.map(async (image) => (await cli.docker(["image", "inspect", "--format", "{{.Id}}", image])).exitCode === 0));
  const missing = unique.filter((_, i) => !found[i]);
  if (missing.length) {
    throw new BottleError(`image(s) not found in the local engine: ${missing.join(", ")}`, {
      code: "DOCKER_IMAGE_MISSING",
      hint: "Build the bottle images first (see images/ in the bottle repository); no registry is consulted.",
      details: { missing },
    });
  }
}

