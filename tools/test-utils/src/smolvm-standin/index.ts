import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runProcess } from "./proc.js";
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
export async function installSmolvmStandin(options: { docker?: string } = {}): Promise<SmolvmStandin> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "smolvm-standin-"));
  const runId = randomBytes(6).toString("hex");
  const argvLog = path.join(dir, "argv.jsonl");
  const state = path.join(dir, "state");
  await mkdir(state, { recursive: true });
  const bin = path.join(dir, "smolvm-standin");
  const moduleUrl = import.meta.url;
  const script = [
    "#!/usr/bin/env node",
    `// smolvm-standin: a docker-backed stand-in for the smolvm CLI (tests only)`,
    `process.env.SMOLVM_STANDIN_STATE ??= ${JSON.stringify(state)};`,
    `process.env.SMOLVM_STANDIN_ARGV_LOG ??= ${JSON.stringify(argvLog)};`,
    `process.env.SMOLVM_STANDIN_RUN ??= ${JSON.stringify(runId)};`,
    ...(options.docker ? [`process.env.SMOLVM_STANDIN_DOCKER ??= ${JSON.stringify(options.docker)};`] : []),
    `const { runSmolvmStandin } = await import(${JSON.stringify(moduleUrl)});`,
    "process.exitCode = await runSmolvmStandin(process.argv.slice(2));",
    "",
  ].join("\n");
  await writeFile(bin, script, { mode: 0o755 });
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
      const filter = ["--filter", `label=${STANDIN_RUN_LABEL}=${runId}`, "--filter", `label=${STANDIN_TEST_LABEL}=1`];
      const ids = (await runProcess(dockerBin, ["ps", "-aq", ...filter])).stdout.split("\n").filter(Boolean);
      if (ids.length) await runProcess(dockerBin, ["rm", "-f", "-v", ...ids]);
      const nets = (await runProcess(dockerBin, ["network", "ls", "-q", ...filter])).stdout.split("\n").filter(Boolean);
      if (nets.length) await runProcess(dockerBin, ["network", "rm", ...nets]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
