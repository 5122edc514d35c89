import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { findReaper } from "./index.js";

// Runs the supervisor bin as PID 1 of a fresh PID namespace (`unshare --pid --fork`, needs
// root) and checks what happens to an orphan one of its daemons leaves behind. /proc is
// not remounted, so processes inside still read the host's /proc and can report host pids.

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
let dir: string;
let procs: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first`);
  if (!findReaper()) throw new Error("tini is not installed (Debian package `tini`); the bundle image needs it too");
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "bottle-reaper-"));
});
afterEach(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  procs = [];
  await rm(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(probe: () => boolean, what: string, context: () => string) {
  const until = Date.now() + 15_000;
  while (!probe()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const stateOf = (pid: string) => /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
const ppidOf = (pid: string) => /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
const childrenOf = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();

async function supervisorAsPid1(extraArgs: string[]) {
  const port = await freePort();
  const orphanPidFile = join(dir, "orphan.pid");
  // The subshell starts a short-lived process and exits at once, so that process is
  // re-parented (to PID 1, or to the nearest subreaper) and exits soon after.
  const orphan = `read -r p rest < /proc/self/stat; echo $p > ${orphanPidFile}; exec sleep 0.3`;
  const daemons = [
    {
      name: "egress",
      command: ["/bin/sh", "-c", `(sh -c '${orphan}' &); echo forked; exec sleep 1000`],
      env: {},
      cwd: dir,
      reloadable: true,
    },
  ];
  await writeFile(join(dir, "daemons.json"), JSON.stringify({ healthPort: port, daemons }));
  const child = spawn(
    "unshare",
    ["--pid", "--fork", "--kill-child", process.execPath, BIN, "--config", join(dir, "daemons.json"), ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  procs.push(child);
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await waitFor(() => existsSync(orphanPidFile) && readFileSync(orphanPidFile, "utf8").endsWith("\n"), "orphan pid", () => out);
  const orphanPid = readFileSync(orphanPidFile, "utf8").trim();
  const pid1 = Number(childrenOf(child.pid!)); // host pid of the namespace's PID 1
  return { child, exit, output: () => out, orphanPid, pid1 };
}

it("as PID 1 without a reaper, an orphan stays a zombie (why tini is needed)", async () => {
  const run = await supervisorAsPid1(["--no-reaper"]);
  await waitFor(() => existsSync(`/proc/${run.orphanPid}`) && stateOf(run.orphanPid) === "Z", "zombie", run.output);
  expect(ppidOf(run.orphanPid)).toBe(String(run.pid1));
  expect(run.output()).toContain("[egress] forked");
  process.kill(run.pid1, "SIGTERM");
  expect(await run.exit).toBe(0);
});

it("as PID 1, the supervisor runs itself under tini and orphans are reaped", async () => {
  const run = await supervisorAsPid1([]);
  await waitFor(() => !existsSync(`/proc/${run.orphanPid}`), "orphan reaped", run.output);
  // The namespace's PID 1 is the outer supervisor; tini -s runs under it and the real one under tini.
  const tini = childrenOf(run.pid1);
  expect(readFileSync(`/proc/${tini}/comm`, "utf8").trim()).toBe("tini");
  expect(run.output()).toContain("[egress] forked");
  expect(run.output()).toContain("[supervisor] egress started");
  process.kill(run.pid1, "SIGTERM");
  expect(await run.exit).toBe(0);
  expect(run.output()).toContain("[supervisor] all daemons stopped");
});
