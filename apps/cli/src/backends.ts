// The backends load on first use: a command that needs neither (validate, plan, ls of
// state) should not pay for their dependencies.
const loadDocker = async () => (await import("@bottle/backend-docker")).dockerBackend;
const loadSmolvm = async () => (await import("@bottle/backend-smolvm")).smolvmBackend;
import { resolvePlan, type BottlePlan } from "@bottle/plan";
import type { Manifest } from "@bottle/manifest";
import { prepareStateDir, writeBundleFiles, writeFileAtomic, writeMetadata, type StateLayout } from "@bottle/state";
import type { ProgressLike } from "./progress.js";
import { imageTags } from "./images.js";

export interface LaunchContext {
  manifest: Manifest;
  manifestPath: string;
  workspace?: string;
  layout: StateLayout;
  secrets: Record<string, string>;
  detach: boolean;
  onProgress: (event: ProgressLike) => void;
  signal: AbortSignal;
}

/**
 * One shape over both backends, so each command is written once. The docker and smolvm
 * packages keep their own signatures (smolvm must learn the bundle's IP before it can
 * plan the agent); this is the only place that knows both.
 */
export interface CliBackend {
  name: BottlePlan["backend"];
  /** Launches and returns the plan in force (smolvm's carries the bundle's address). */
  launch(plan: BottlePlan, ctx: LaunchContext): Promise<BottlePlan>;
  attach(plan: BottlePlan, command: string[]): Promise<number>;
  stop(plan: BottlePlan, layout: StateLayout, onProgress: (event: ProgressLike) => void): Promise<{ logFile?: string }>;
  reload(plan: BottlePlan, layout: StateLayout): Promise<void>;
  exec(slug: string, command: string[], user?: string): Promise<number>;
  logs(slug: string, options: { sidecar?: string; follow?: boolean; tail?: number }): Promise<number>;
}

const docker: CliBackend = {
  name: "docker",
  async launch(plan, ctx) {
    await (await loadDocker()).launch(plan, {
      stateDir: ctx.layout.root,
      holderPid: ctx.detach ? null : process.pid,
      writeBundleFiles: async ({ networks }) => {
        // Only reached once launch found the bottle not running: a running bottle keeps its approvals.
        await resetApprovals(ctx.layout);
        await writeBundleFiles(ctx.layout, plan, { secrets: ctx.secrets, internalCidr: networks.internal.subnet });
      },
      onProgress: ctx.onProgress,
      signal: ctx.signal,
    });
    return plan;
  },
  attach: async (plan, command) => (await loadDocker()).attach(plan, { command }),
  stop: async (plan, layout, onProgress) => (await loadDocker()).stop(plan, { stateDir: layout.root, onProgress }),
  reload: async (plan) => (await loadDocker()).reload(plan),
  exec: async (slug, command, user) => (await loadDocker()).exec(slug, command, { ...(user ? { user } : {}) }),
  logs: async (slug, options) => (await loadDocker()).logs(slug, options),
};

const smolvm: CliBackend = {
  name: "smolvm",
  async launch(plan, ctx) {
    await prepareStateDir(ctx.layout.root);
    await resetApprovals(ctx.layout);
    await writeBundleFiles(ctx.layout, plan, { secrets: ctx.secrets });
    const metadata = {
      version: 1 as const,
      slug: plan.slug,
      bottle: plan.bottle,
      backend: "smolvm" as const,
      manifestPath: plan.manifestPath,
      composeProject: plan.composeProject,
      networks: plan.networks,
      containers: plan.machines,
      startedAt: new Date().toISOString(),
    };
    // "starting", held by this process, until the machines are up and provisioned (see docker's launch).
    await writeMetadata(ctx.layout.root, { ...metadata, phase: "starting", pid: process.pid });
    const result = await (await loadSmolvm()).launch({
      planFor: (bundleAddress) =>
        resolvePlan(ctx.manifest, plan.bottle, {
          manifestPath: ctx.manifestPath,
          backend: "smolvm",
          images: imageTags(),
          ...(ctx.workspace ? { workspace: ctx.workspace } : {}),
          ...(bundleAddress ? { bundleAddress } : {}),
        }),
      stateDir: ctx.layout.root,
      log: (line) => ctx.onProgress({ step: "smolvm", message: line }),
    });
    await writeMetadata(ctx.layout.root, { ...metadata, phase: "ready", readyAt: new Date().toISOString(), ...(ctx.detach ? {} : { pid: process.pid }) });
    return result.plan;
  },
  attach: async (plan, command) => (await loadSmolvm()).attach(plan, command),
  async stop(plan, layout) {
    await (await loadSmolvm()).stop(plan, { logsDir: layout.logs });
    return { logFile: `${layout.logs}/bundle.log` };
  },
  reload: async (plan, layout) => void (await (await loadSmolvm()).reload(plan, { stateDir: layout.root })),
  async exec(slug, command) {
    const result = await (await loadSmolvm()).exec(slug, command);
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    return result.exitCode;
  },
  async logs(slug) {
    process.stdout.write(await (await loadSmolvm()).logs(slug));
    return 0;
  },
};

/** Approvals last as long as the bottle: a fresh start begins from the manifest alone. */
async function resetApprovals(layout: StateLayout): Promise<void> {
  await writeFileAtomic(layout.approvedRoutes, "[]\n", 0o600);
}

export { loadDocker, loadSmolvm };

export function backendFor(target: Pick<BottlePlan, "backend">): CliBackend {
  return target.backend === "smolvm" ? smolvm : docker;
}
