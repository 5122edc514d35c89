import { randomBytes } from "node:crypto";
import { link, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { BottleError } from "@bottle/errors";
import { mkdirPrivate } from "./fs.js";

/** Who holds a bottle's start lock: `<state>/start.lock`. */
export interface StartLockHolder {
  pid: number;
  /** ISO time the lock was taken. */
  since: string;
}

export interface StartLock {
  readonly holder: StartLockHolder;
  /** Removes the lock if it is still this one's. Safe to call twice. */
  release(): Promise<void>;
}

export interface StartLockOptions {
  /** Whether a holder PID still runs. Default: `process.kill(pid, 0)`. */
  isAlive?: (pid: number) => boolean;
  /** Used in the message when the lock is held. */
  bottle?: string;
  pid?: number;
}

export function startLockPath(stateDir: string): string {
  return path.join(stateDir, "start.lock");
}

/**
 * Takes the start lock of one bottle: only one `bottle start` of a bottle runs at a time.
 * The lock file appears atomically with its content (written aside, then hard-linked into
 * place, which fails if it exists). A lock whose holder died is moved aside and taken over;
 * a live holder makes this throw BOTTLE_START_LOCKED naming its PID and since when.
 */
export async function acquireStartLock(stateDir: string, options: StartLockOptions = {}): Promise<StartLock> {
  const isAlive = options.isAlive ?? pidAlive;
  const holder: StartLockHolder = { pid: options.pid ?? process.pid, since: new Date().toISOString() };
  const file = startLockPath(stateDir);
  await mkdirPrivate(stateDir);
  const tag = `${holder.pid}.${randomBytes(4).toString("hex")}`;
  const mine = `${file}.${tag}`;
  await writeFile(mine, `${JSON.stringify(holder)}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(mine, file);
        return lockHandle(file, holder);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const current = await readHolder(file);
      if (current && isAlive(current.pid)) throw locked(options.bottle, current);
      // Stale (its process is gone) or unreadable: move it aside, then check what was moved —
      // another start may have replaced the stale lock in between.
      const aside = `${file}.stale.${tag}`;
      try {
        await rename(file, aside);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw error;
      }
      const moved = await readHolder(aside);
      if (moved && isAlive(moved.pid)) {
        await link(aside, file).catch(() => undefined);
        await rm(aside, { force: true });
        throw locked(options.bottle, moved);
      }
      await rm(aside, { force: true });
    }
    const current = await readHolder(file);
    throw locked(options.bottle, current ?? { pid: 0, since: "unknown" });
  } finally {
    await rm(mine, { force: true });
  }
}

/** The holder of a bottle's start lock, if any (dead or alive). */
export async function readStartLock(stateDir: string): Promise<StartLockHolder | undefined> {
  return readHolder(startLockPath(stateDir));
}

function lockHandle(file: string, holder: StartLockHolder): StartLock {
  return {
    holder,
    async release() {
      const current = await readHolder(file);
      if (current && current.pid === holder.pid && current.since === holder.since) await rm(file, { force: true });
    },
  };
}

async function readHolder(file: string): Promise<StartLockHolder | undefined> {
  try {
    const data = JSON.parse(await readFile(file, "utf8")) as Partial<StartLockHolder>;
    return typeof data.pid === "number" && typeof data.since === "string" ? { pid: data.pid, since: data.since } : undefined;
  } catch {
    return undefined;
  }
}

function locked(bottle: string | undefined, holder: StartLockHolder): BottleError {
  return new BottleError(`${bottle ? `bottle "${bottle}"` : "this bottle"} is being started by another \`bottle start\` (pid ${holder.pid}, since ${holder.since})`, {
    code: "BOTTLE_START_LOCKED",
    hint: "Wait for that start to finish (then `bottle ls`), or stop it; a lock whose process has died is taken over automatically.",
    details: { ...holder },
  });
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
