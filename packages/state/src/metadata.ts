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

export async function writeMetadata(metadata: BottleMetadata, root = stateRoot()): Promise<void> {
  await writeFileAtomic(stateLayout(metadata.slug, root).metadata, `${JSON.stringify(metadata, null, 2)}\n`, 0o600);
}

export async function readMetadata(slug: string, root = stateRoot()): Promise<BottleMetadata | undefined> {
  try {
    return JSON.parse(await readFile(stateLayout(slug, root).metadata, "utf8")) as BottleMetadata;
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
  const all = await Promise.all(entries.map((slug) => readMetadata(slug, root)));
  return all.filter((m): m is BottleMetadata => m !== undefined).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/** Removes secrets and rendered config but keeps logs, so a stopped bottle can be inspected. */
export async function retireState(slug: string, root = stateRoot()): Promise<void> {
  const layout = stateLayout(slug, root);
  await rm(layout.secrets, { recursive: true, force: true });
  await rm(layout.metadata, { force: true });
}

export async function removeState(slug: string, root = stateRoot()): Promise<void> {
  await rm(path.join(root, slug), { recursive: true, force: true });
}
