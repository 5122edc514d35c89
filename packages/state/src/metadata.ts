import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import type { BottlePlan } from "@bottle/plan";
import { writeFileAtomic } from "./fs.js";
import { stateLayout, stateRoot } from "./layout.js";

/** `<state>/metadata.json`: what `ls`, `stop` and `cleanup` need without the manifest. */
export interface BottleMetadata {
  version: 1;
  slug: string;
  bottle: string;
  backend: BottlePlan["backend"];
  manifestPath: string;
  composeProject: string;
  composeFile?: string;
  networks: BottlePlan["networks"];
  containers: BottlePlan["machines"];
  internalSubnet?: string;
  /**
   * PID of the CLI that holds the bottle: while `phase` is "starting", the process that is
   * starting it; once ready, the CLI of an attached bottle (absent when detached).
   */
  pid?: number;
  /**
   * "starting" until the agent is fenced and provisioned (written last by a start), then
   * "ready". Absent in metadata written before phases existed: read as ready.
   */
  phase?: "starting" | "ready";
  startedAt: string;
  readyAt?: string;
  stoppedAt?: string;
}

/** Whether the bottle finished starting (fenced and provisioned): only then may anyone use it. */
export function isReady(metadata: Pick<BottleMetadata, "phase" | "stoppedAt">): boolean {
  return metadata.phase !== "starting" && metadata.stoppedAt === undefined;
}

/**
 * Where a bottle stands: "ready"; "starting" while the process starting it runs;
 * "interrupted" when that process is gone before the bottle became ready (an orphan for
 * `bottle cleanup`); "stopped".
 */
export function bottlePhase(metadata: Pick<BottleMetadata, "phase" | "pid" | "stoppedAt">, isAlive: (pid: number) => boolean): "ready" | "starting" | "interrupted" | "stopped" {
  if (metadata.stoppedAt !== undefined) return "stopped";
  if (metadata.phase !== "starting") return "ready";
  return metadata.pid !== undefined && isAlive(metadata.pid) ? "starting" : "interrupted";
}

/** Written before anything exists in the engine, so cleanup can always judge leftovers. */
export async function writeMetadata(stateDir: string, metadata: BottleMetadata): Promise<void> {
  await writeFileAtomic(stateLayout(stateDir).metadata, `${JSON.stringify(metadata, null, 2)}\n`, 0o600);
}

/** The metadata, or undefined when there is none (or it cannot be parsed). */
export async function readMetadata(stateDir: string): Promise<BottleMetadata | undefined> {
  try {
    return JSON.parse(await readFile(stateLayout(stateDir).metadata, "utf8")) as BottleMetadata;
  } catch {
    return undefined;
  }
}

/** Every bottle with a state dir, newest first. */
export async function listMetadata(root = stateRoot()): Promise<BottleMetadata[]> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch {
    return [];
  }
  const all = await Promise.all(entries.map((slug) => readMetadata(path.join(root, slug))));
  return all.filter((m): m is BottleMetadata => m !== undefined).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/** After stop: drops the secrets, keeps logs, config and metadata (marked stopped) for inspection. */
export async function retireState(stateDir: string): Promise<void> {
  await rm(stateLayout(stateDir).secrets, { recursive: true, force: true });
}
