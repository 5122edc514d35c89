import type { BottlePlan } from "@bottle/plan";
import { launchBottle, type BottleHandle, type LaunchOptions } from "./launch.js";
import { attachAgent, doctor, execInAgent, listBottles, logs, reloadBundle, type AttachOptions, type ExecOptions, type LogsOptions } from "./status.js";
import { cleanupOrphans, stopBottle, type CleanupOptions, type StopOptions } from "./teardown.js";

/**
 * The docker backend behind one small shape the CLI can switch on (`plan.backend`).
 * Every member is a thin alias of a named export of this package.
 */
export const dockerBackend = {
  name: "docker" as const,
  /** launchBottle(plan, { stateDir, secrets, writeBundleFiles, onProgress, signal }) → handle */
  launch: (plan: BottlePlan, options: LaunchOptions): Promise<BottleHandle> => launchBottle(plan, options),
  /** attachAgent(plan, { command?, tty? }) → exit code */
  attach: (plan: BottlePlan, options?: AttachOptions) => attachAgent(plan, options),
  /** stopBottle(plan, { stateDir? }) → what was removed, where the logs went */
  stop: (plan: BottlePlan, options?: StopOptions) => stopBottle(plan, options),
  /** listBottles() → one status row per bottle */
  list: () => listBottles(),
  /** logs(slug, { sidecar?, follow?, tail? }) → exit code */
  logs: (slug: string, options?: LogsOptions) => logs(slug, options),
  /** execInAgent(slug, command, { user?, tty? }) → exit code */
  exec: (slug: string, command: readonly string[], options?: ExecOptions) => execInAgent(slug, command, options),
  /** reloadBundle(plan): SIGHUP to the bundle's supervisor */
  reload: (plan: BottlePlan) => reloadBundle(plan),
  /** cleanupOrphans() → what was removed and why */
  cleanup: (options?: CleanupOptions) => cleanupOrphans(options),
  /** doctor({ images? }) → engine, compose and image checks */
  doctor: (options?: { images?: string[] }) => doctor(options),
};

export type DockerBackend = typeof dockerBackend;
