import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import type { BottlePlan } from "@bottle/plan";
import { writeFileAtomic } from "./fs.js";
import { stateLayout, stateRoot } from "./layout.js";

export interface BottleMetadata {
  slug: string;
  bottle: string;
  backend: BottlePlan["backend"];
  composeProject: string;
  manifestPath: string;
  createdAt: string;
  /** pid of the CLI that owns an attached session; absent when detached. */
  cliPid?: number;
  detached: boolean;
  networks: BottlePlan["networks"];
  machines: BottlePlan["machines"];
  internalCidr?: string;
  versions: { bottle: string };
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
  return all.filter((m): m is BottleMetadata => m !== undefined).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
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
