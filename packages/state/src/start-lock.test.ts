import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { acquireStartLock, bottlePhase, isReady, readStartLock, startLockPath } from "./index.js";

const stateDir = () => path.join(mkdtempSync(path.join(os.tmpdir(), "bottle-lock-")), "bottle-1234");

describe("start lock", () => {
  it("lets one start in and tells the second who holds it (pid, since when)", async () => {
    const dir = stateDir();
    const first = await acquireStartLock(dir, { pid: 4242, isAlive: (pid) => pid === 4242, bottle: "impl" });
    const second = acquireStartLock(dir, { pid: 4343, isAlive: (pid) => pid === 4242, bottle: "impl" });
    await expect(second).rejects.toMatchObject({ code: "BOTTLE_START_LOCKED", details: { pid: 4242, since: first.holder.since } });
    await expect(second).rejects.toThrow(/bottle "impl" is being started by another `bottle start` \(pid 4242, since /);
    await first.release();
    const third = await acquireStartLock(dir, { pid: 4343, isAlive: () => true });
    expect(await readStartLock(dir)).toEqual(third.holder);
    await third.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("takes over a lock whose process is gone", async () => {
    const dir = stateDir();
    await acquireStartLock(dir, { pid: 1111, isAlive: () => true });
    const next = await acquireStartLock(dir, { pid: 2222, isAlive: (pid) => pid === 2222 });
    expect((await readStartLock(dir))?.pid).toBe(2222);
    await next.release();
  });

  it("takes over an unreadable lock file", async () => {
    const dir = stateDir();
    await acquireStartLock(dir, { pid: 1, isAlive: () => false }).then((l) => l.release());
    writeFileSync(startLockPath(dir), "garbage");
    const lock = await acquireStartLock(dir, { pid: 3333, isAlive: () => true });
    expect((await readStartLock(dir))?.pid).toBe(3333);
    await lock.release();
  });

  it("admits exactly one of many concurrent starts", async () => {
    const dir = stateDir();
    const pids = Array.from({ length: 12 }, (_, i) => 5000 + i);
    const results = await Promise.allSettled(pids.map((pid) => acquireStartLock(dir, { pid, isAlive: () => true })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.filter((r) => r.status === "rejected").every((r) => (r as PromiseRejectedResult).reason.code === "BOTTLE_START_LOCKED")).toBe(true);
  });

  it("does not release a lock another start has taken over", async () => {
    const dir = stateDir();
    const stale = await acquireStartLock(dir, { pid: 7, isAlive: () => true });
    const taker = await acquireStartLock(dir, { pid: 8, isAlive: (pid) => pid === 8 });
    await stale.release();
    expect((await readStartLock(dir))?.pid).toBe(8);
    await taker.release();
  });
});

describe("bottle phase", () => {
  const alive = (pid: number) => pid === 10;
  it("is ready only once a start wrote it last; legacy metadata reads as ready", () => {
    expect(bottlePhase({ phase: "starting", pid: 10 }, alive)).toBe("starting");
    expect(bottlePhase({ phase: "starting", pid: 11 }, alive)).toBe("interrupted");
    expect(bottlePhase({ phase: "starting" }, alive)).toBe("interrupted");
    expect(bottlePhase({ phase: "ready" }, alive)).toBe("ready");
    expect(bottlePhase({}, alive)).toBe("ready");
    expect(bottlePhase({ phase: "ready", stoppedAt: "x" }, alive)).toBe("stopped");
    expect(isReady({ phase: "starting" })).toBe(false);
    expect(isReady({ phase: "ready" })).toBe(true);
  });
});
