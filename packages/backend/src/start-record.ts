import type { BottlePlan } from "@bottle/plan";
import { prepareStateDir, retireState, writeMetadata, type BottleMetadata } from "@bottle/state";
import type { LaunchFacts } from "./contract.js";

/**
 * A bottle's readiness, as metadata.json tells `ls`, `exec` and `cleanup`: "starting" and
 * held by the starting process until the agent is fenced and provisioned, then "ready"
 * (held by the attached CLI, or by nobody when detached), or stopped when the start failed.
 */
export interface StartRecord {
  readonly stateDir: string;
  /** Adds facts learnt while starting (internal subnet, compose file). */
  record(facts: LaunchFacts): Promise<void>;
  /** The bottle is usable: written last, once fenced and provisioned. */
  ready(): Promise<void>;
  /** The start failed: marked stopped, and the secrets written for it removed. */
  failed(): Promise<void>;
}

export interface StartRecordOptions {
  /** PID that holds the bottle once ready; `null` = detached. Default: this process. */
  holderPid?: number | null;
  /** PID of the process starting it. Default: this process. */
  starterPid?: number;
}

/**
 * Prepares the state dir and writes metadata.json as "starting", before anything exists in
 * the engine, so `cleanup` can always judge what a start leaves behind.
 */
export async function openStartRecord(stateDir: string, plan: BottlePlan, options: StartRecordOptions = {}): Promise<StartRecord> {
  await prepareStateDir(stateDir);
  const holder = options.holderPid === undefined ? process.pid : options.holderPid;
  let metadata: BottleMetadata = {
    version: 1,
    slug: plan.slug,
    bottle: plan.bottle,
    backend: plan.backend,
    manifestPath: plan.manifestPath,
    composeProject: plan.composeProject,
    networks: { ...plan.networks },
    containers: { ...plan.machines },
    phase: "starting",
    pid: options.starterPid ?? process.pid,
    startedAt: new Date().toISOString(),
  };
  await writeMetadata(stateDir, metadata);
  const withoutPid = (): Omit<BottleMetadata, "pid"> => {
    const { pid: _pid, ...rest } = metadata;
    return rest;
  };
  return {
    stateDir,
    async record(facts) {
      metadata = { ...metadata, ...facts };
      await writeMetadata(stateDir, metadata);
    },
    async ready() {
      metadata = { ...withoutPid(), phase: "ready", readyAt: new Date().toISOString(), ...(holder !== null ? { pid: holder } : {}) };
      await writeMetadata(stateDir, metadata);
    },
    async failed() {
      metadata = { ...withoutPid(), stoppedAt: new Date().toISOString() };
      await writeMetadata(stateDir, metadata).catch(() => undefined);
      await retireState(stateDir).catch(() => undefined);
    },
  };
}
