import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runProcess } from "./proc.js";
import { launcherScript, startStandinServer } from "./server.js";
import { STANDIN_RUN_LABEL, STANDIN_TEST_LABEL } from "./standin.js";

export { runSmolvmStandin, STANDIN_VERSION_LINE, STANDIN_TEST_LABEL, STANDIN_RUN_LABEL, STANDIN_MACHINE_LABEL } from "./standin.js";

export interface SmolvmStandin {
  /** Path of the executable `smolvm-standin` (use as BOTTLE_SMOLVM_BIN). */
  bin: string;
  dir: string;
  argvLog: string;
  /** Every argument list the stand-in received, in order. */
  readArgv(): Promise<string[][]>;
  /** Removes every container and network this stand-in created, and its folder. */
  cleanup(): Promise<void>;
}

/**
 * Writes an executable `smolvm-standin` into a fresh folder. It runs the stand-in from
 * this package's build, with its own machine records, argv log and run id (all docker
 * objects carry dev.bottle.test=1 and the run id, so cleanup removes exactly these).
 */
export async function installSmolvmStandin(options: { docker?: string; serve?: boolean; fenceImage?: string } = {}): Promise<SmolvmStandin> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "smolvm-standin-"));
  const runId = randomBytes(6).toString("hex");
  const argvLog = path.join(dir, "argv.jsonl");
  const state = path.join(dir, "state");
  await mkdir(state, { recursive: true });
  const bin = path.join(dir, "smolvm-standin");
  const defaults: Record<string, string> = { SMOLVM_STANDIN_STATE: state, SMOLVM_STANDIN_ARGV_LOG: argvLog, SMOLVM_STANDIN_RUN: runId };
  if (options.docker) defaults.SMOLVM_STANDIN_DOCKER = options.docker;
  // an image with iptables (e.g. the sidecars image): --allow-cidr is then emulated
  if (options.fenceImage) defaults.SMOLVM_STANDIN_FENCE_IMAGE = options.fenceImage;
  // Served from this process when it stays up (fast); the script runs the module itself otherwise.
  const socket = path.join(dir, "standin.sock");
  const server = options.serve === false ? undefined : await startStandinServer(socket, { ...process.env, ...defaults });
  await writeFile(bin, launcherScript({ socket, moduleUrl: import.meta.url, defaults }), { mode: 0o755 });
  await chmod(bin, 0o755);
  const dockerBin = options.docker ?? "docker";
  return {
    bin,
    dir,
    argvLog,
    async readArgv() {
      try {
        return (await readFile(argvLog, "utf8"))
          .split("\n")
          .filter(Boolean)
          .map((line) => JSON.parse(line) as string[]);
      } catch {
        return [];
      }
    },
    async cleanup() {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      const filter = ["--filter", `label=${STANDIN_RUN_LABEL}=${runId}`, "--filter", `label=${STANDIN_TEST_LABEL}=1`];
      const quiet = (args: string[]) => runProcess(dockerBin, args).catch(() => ({ exitCode: 1, stdout: "", stderr: "" }));
      const ids = (await quiet(["ps", "-aq", ...filter])).stdout.split("\n").filter(Boolean);
      if (ids.length) await quiet(["rm", "-f", "-v", ...ids]);
      const nets = (await quiet(["network", "ls", "-q", ...filter])).stdout.split("\n").filter(Boolean);
      if (nets.length) await quiet(["network", "rm", ...nets]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
