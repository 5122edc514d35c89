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
  /** PID of the CLI that holds an attached bottle; absent when detached. */
  pid?: number;
  startedAt: string;
  stoppedAt?: string;
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
