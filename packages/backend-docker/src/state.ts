import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BottleError } from "@bottle/errors";
import type { BottlePlan } from "@bottle/plan";
import { stateLayout } from "./compose.js";

// The state-dir handling the docker backend needs. The platform-neutral `@bottle/state`
// package is meant to own this; until it lands, these few functions live here.

/** `$XDG_STATE_HOME/bottle` or `~/.local/state/bottle`. */
export function defaultStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), ".local", "state"), "bottle");
}

export function defaultStateDir(slug: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(defaultStateRoot(env), slug);
}

/** Creates `<state>` and its sub-folders, all 0700 (the bundle reads them as root). */
export async function prepareStateDir(stateDir: string) {
  const layout = stateLayout(stateDir);
  for (const dir of [layout.root, layout.config, layout.secrets, layout.bundle, layout.logs]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  }
  return layout;
}

/** Written next to the compose file; `cleanupOrphans` reads it to tell live bottles from leftovers. */
export interface BottleMetadata {
  version: 1;
  slug: string;
  bottle: string;
  backend: "docker";
  manifestPath: string;
  composeProject: string;
  composeFile: string;
  networks: { internal: string; egress: string };
  containers: { bundle: string; agent: string };
  internalSubnet?: string;
  /** PID of the CLI that holds the bottle; absent for a detached bottle. */
  pid?: number;
  startedAt: string;
  stoppedAt?: string;
}

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

/**
 * Writes `<state>/secrets/secrets.json` (every planned secret, by id) and the gate's
 * credential files `git/<upstream>/ssh_key` or `git/<upstream>/token`, all 0600.
 * `values` maps secret ids to values the caller read from the host.
 */
export async function writeSecretFiles(plan: BottlePlan, stateDir: string, values: Readonly<Record<string, string>>): Promise<string[]> {
  const missing = plan.secrets.filter((s) => values[s.id] === undefined).map((s) => s.id);
  if (missing.length) {
    throw new BottleError(`missing values for planned secrets: ${missing.join(", ")}`, {
      code: "SECRET_MISSING",
      hint: "Set the environment variables or create the files the manifest references (`bottle plan` lists them).",
    });
  }
  const dir = stateLayout(stateDir).secrets;
  const written: string[] = [];
  const all = Object.fromEntries(plan.secrets.map((s) => [s.id, values[s.id]!]));
  written.push(await writeFileAtomic(path.join(dir, "secrets.json"), `${JSON.stringify(all, null, 2)}\n`, 0o600));
  for (const upstream of plan.git.upstreams) {
    if (!upstream.credential) continue;
    const value = values[upstream.credential]!;
    const folder = path.join(dir, "git", upstream.name);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    if (upstream.transport === "ssh") {
      // ssh refuses a key file without its final newline.
      written.push(await writeFileAtomic(path.join(folder, "ssh_key"), value.endsWith("\n") ? value : `${value}\n`, 0o600));
    } else {
      written.push(await writeFileAtomic(path.join(folder, "token"), value.trim(), 0o600));
    }
  }
  return written;
}

/** temp-then-rename, so readers (the bundle's daemons) never see half a file. */
export async function writeFileAtomic(file: string, content: string | Buffer, mode: number): Promise<string> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, content, { mode });
    await chmod(tmp, mode);
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return file;
}
