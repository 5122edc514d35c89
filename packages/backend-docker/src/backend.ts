import { BACKEND_SPEC_VERSION, slugOf, type BottleBackend } from "@bottle/backend";
import { DockerCli } from "./engine.js";
import { launchBottle, preflightLaunch } from "./launch.js";
import { engineRuntimes, runscCheck } from "./runtimes.js";
import { attachAgent, captureInAgent, doctor, execInAgent, listBottles, logs, reloadBundle } from "./status.js";
import { cleanupOrphans, stopBottle } from "./teardown.js";
import { LABELS } from "@bottle/plan";

/** Agent images to check in `doctor`; the CLI sets its versioned tags (default: the plan's defaults). */
export interface DockerBackendOptions {
  images?: string[];
}

/**
 * The docker backend behind the bottle backend contract (@bottle/backend). Every member
 * is a thin alias of a named export of this package.
 */
export function createDockerBackend(options: DockerBackendOptions = {}): BottleBackend {
  return {
    specVersion: BACKEND_SPEC_VERSION,
    name: "docker",
    supports: { pipelock: true, sidecarLogs: true, followLogs: true, workspaceMount: true, agentRuntimes: ["runc", "runsc"] },
    async preflight(plan) {
      await preflightLaunch(await DockerCli.connect(), plan);
    },
    async launch(session) {
      const { plan, layout } = session;
      await launchBottle(plan, {
        stateDir: layout.root,
        preflight: false,
        start: { stateDir: layout.root, record: session.record, ready: async () => {}, failed: async () => {} },
        writeBundleFiles: ({ networks }) => session.writeBundleFiles({ internalCidr: networks.internal.subnet }),
        onProgress: session.onProgress,
        ...(session.signal ? { signal: session.signal } : {}),
      });
      return plan;
    },
    attach: (plan, command) => attachAgent(plan, command ? { command } : {}),
    async exec(ref, request) {
      const user = request.user ? { user: request.user } : {};
      if (request.stdio === "capture") return captureInAgent(slugOf(ref), request.command, user);
      return { exitCode: await execInAgent(slugOf(ref), request.command, user) };
    },
    logs: (ref, request) =>
      logs(slugOf(ref), {
        ...(request.sidecar ? { sidecar: request.sidecar } : {}),
        ...(request.follow ? { follow: true } : {}),
        ...(request.tail !== undefined ? { tail: request.tail } : {}),
        ...(request.output ? { output: request.output as import("node:stream").Writable } : {}),
      }),
    async reload(plan) {
      await reloadBundle(plan);
      return { signalled: plan.bundle.daemons.filter((d) => d.reloadable).map((d) => d.name) };
    },
    async stop(plan, layout, onProgress) {
      const report = await stopBottle(plan, { stateDir: layout.root, ...(onProgress ? { onProgress } : {}) });
      return report.logFile ? { logFile: report.logFile } : {};
    },
    async list() {
      return (await listBottles()).map((row) => ({
        slug: row.slug,
        bottle: row.bottle,
        backend: "docker" as const,
        ...(row.bundle ? { bundle: { state: row.bundle.state, ...(row.bundle.health ? { health: row.bundle.health } : {}) } } : {}),
        ...(row.agent ? { agent: { state: row.agent.state, ...(row.agent.health ? { health: row.agent.health } : {}) } } : {}),
      }));
    },
    async cleanup(filter = {}) {
      const report = await cleanupOrphans({ ...(filter.slug ? { labels: { [LABELS.slug]: filter.slug } } : {}), ...(filter.isAlive ? { isAlive: filter.isAlive } : {}) });
      return { bottles: report.bottles, failures: report.failures };
    },
    async doctor() {
      const [report, runtimes] = await Promise.all([doctor(options.images ? { images: options.images } : {}), engineRuntimes()]);
      return { backend: "docker", ok: report.ok, checks: [...report.checks, runscCheck(runtimes)] };
    },
  };
}

/** The docker backend with the default image tags in `doctor`. */
export const dockerBackend: BottleBackend = createDockerBackend();
