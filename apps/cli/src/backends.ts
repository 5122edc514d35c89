import { dockerBackend } from "@bottle/backend-docker";
import { smolvmBackend } from "@bottle/backend-smolvm";
import { BottleError } from "@bottle/errors";
import { resolvePlan, type BottlePlan } from "@bottle/plan";
import type { Manifest } from "@bottle/manifest";
import { prepareStateDir, writeBundleFiles, writeMetadata, type StateLayout } from "@bottle/state";
import type { ProgressLike } from "./progress.js";

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
    await dockerBackend.launch(plan, {
      stateDir: ctx.layout.root,
      holderPid: ctx.detach ? null : process.pid,
      writeBundleFiles: ({ networks }) => writeBundleFiles(ctx.layout, plan, { secrets: ctx.secrets, internalCidr: networks.internal.subnet }),
      onProgress: ctx.onProgress,
      signal: ctx.signal,
    });
    return plan;
  },
  attach: (plan, command) => dockerBackend.attach(plan, { command }),
  stop: (plan, layout, onProgress) => dockerBackend.stop(plan, { stateDir: layout.root, onProgress }),
  reload: (plan) => dockerBackend.reload(plan),
  exec: (slug, command, user) => dockerBackend.exec(slug, command, { ...(user ? { user } : {}) }),
  logs: (slug, options) => dockerBackend.logs(slug, options),
};

const smolvm: CliBackend = {
  name: "smolvm",
  async launch(plan, ctx) {
    if (plan.pipelock.enabled) {
      throw new BottleError("pipelock is not supported on the smolvm backend yet", { code: "CLI_SMOLVM_PIPELOCK", hint: 'use "backend": "docker" for bottles with pipelock' });
    }
    await prepareStateDir(ctx.layout.root);
    await writeBundleFiles(ctx.layout, plan, { secrets: ctx.secrets });
    await writeMetadata(ctx.layout.root, {
      version: 1,
      slug: plan.slug,
      bottle: plan.bottle,
      backend: "smolvm",
      manifestPath: plan.manifestPath,
      composeProject: plan.composeProject,
      networks: plan.networks,
      containers: plan.machines,
      ...(ctx.detach ? {} : { pid: process.pid }),
      startedAt: new Date().toISOString(),
    });
    const result = await smolvmBackend.launch({
      planFor: (bundleAddress) =>
        resolvePlan(ctx.manifest, plan.bottle, {
          manifestPath: ctx.manifestPath,
          backend: "smolvm",
          ...(ctx.workspace ? { workspace: ctx.workspace } : {}),
          ...(bundleAddress ? { bundleAddress } : {}),
        }),
      stateDir: ctx.layout.root,
      log: (line) => ctx.onProgress({ step: "smolvm", message: line }),
    });
    return result.plan;
  },
  attach: (plan, command) => smolvmBackend.attach(plan, command),
  async stop(plan, layout) {
    await smolvmBackend.stop(plan, { logsDir: layout.logs });
    return { logFile: `${layout.logs}/bundle.log` };
  },
  reload: async (plan, layout) => void (await smolvmBackend.reload(plan, { stateDir: layout.root })),
  async exec(slug, command) {
    const result = await smolvmBackend.exec(slug, command);
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    return result.exitCode;
  },
  async logs(slug) {
    process.stdout.write(await smolvmBackend.logs(slug));
    return 0;
  },
};

export function backendFor(target: Pick<BottlePlan, "backend">): CliBackend {
  return target.backend === "smolvm" ? smolvm : docker;
}
