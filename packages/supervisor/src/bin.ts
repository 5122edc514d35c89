#!/usr/bin/env node
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { BottleError, formatBottleError } from "@bottle/errors";
import { readSupervisorConfig } from "./config.js";
import { fetchHealth, requestSignal } from "./control.js";
import { findReaper, reaperCommand } from "./reaper.js";
import { startSupervisor } from "./supervisor.js";

const USAGE = `usage:
  bottle-supervisor [run] --config FILE [--health-host ADDR] [--grace-ms N] [--no-reaper]
  bottle-supervisor health [--port 9000] [--host 127.0.0.1]
  bottle-supervisor signal <daemon> [HUP|USR1|USR2] [--port 9000]`;

const DEFAULT_PORT = 9000;
const REAPED_ENV = "BOTTLE_SUPERVISOR_UNDER_REAPER";

function portOf(value: string | undefined): number {
  const port = Number(value ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new BottleError(`Invalid port "${value}"`, { code: "SUPERVISOR_USAGE", hint: USAGE });
  }
  return port;
}

async function health(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { port: { type: "string" }, host: { type: "string" } } });
  try {
    const res = await fetchHealth(portOf(values.port), values.host ?? "127.0.0.1");
    process.stdout.write(`${JSON.stringify(res.body)}\n`);
    return res.status === 200 ? 0 : 1;
  } catch (error) {
    process.stderr.write(`health check failed: ${(error as Error).message}\n`);
    return 1;
  }
}

async function signal(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { port: { type: "string" }, host: { type: "string" } },
  });
  const [daemon, sig = "HUP"] = positionals;
  if (!daemon) throw new BottleError("Which daemon?", { code: "SUPERVISOR_USAGE", hint: USAGE });
  const res = await requestSignal(portOf(values.port), daemon, sig, values.host ?? "127.0.0.1");
  process.stdout.write(`${JSON.stringify(res.body)}\n`);
  return res.status === 200 ? 0 : 1;
}

/** As PID 1, run this same command again under tini (see reaper.ts) and relay signals to it. */
function runUnderReaper(reaper: string, args: string[]): void {
  const [file, ...rest] = reaperCommand(reaper, process.execPath, process.argv[1] ?? "", args);
  const child = spawn(file, rest, { stdio: "inherit", env: { ...process.env, [REAPED_ENV]: "1" } });
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"] as const) {
    process.on(sig, () => child.kill(sig));
  }
  child.on("exit", (code, sig) => process.exit(code ?? (sig === "SIGTERM" || sig === "SIGINT" ? 0 : 1)));
}

async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: "string" },
      "health-host": { type: "string" },
      "grace-ms": { type: "string" },
      "no-reaper": { type: "boolean" },
    },
  });
  if (!values.config) throw new BottleError("Missing --config", { code: "SUPERVISOR_USAGE", hint: USAGE });
  if (process.pid === 1 && !values["no-reaper"] && process.env[REAPED_ENV] !== "1") {
    const reaper = findReaper();
    if (reaper) {
      runUnderReaper(reaper, args);
      return;
    }
    process.stdout.write(
      "[supervisor] WARNING: running as PID 1 without tini; orphaned processes will stay zombies. " +
        "Install tini (Debian package `tini`) or start the bundle with `tini --`.\n",
    );
  }
  const config = await readSupervisorConfig(values.config);
  const graceMs = values["grace-ms"] === undefined ? undefined : Number(values["grace-ms"]);
  const supervisor = await startSupervisor(config, {
    ...(values["health-host"] ? { healthHost: values["health-host"] } : {}),
    ...(graceMs !== undefined && Number.isFinite(graceMs) ? { graceMs } : {}),
  });
  const shutdown = (sig: string) => {
    process.stdout.write(`[supervisor] ${sig}: shutting down\n`);
    void supervisor.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGHUP", () => {
    const names = supervisor.reload();
    process.stdout.write(`[supervisor] SIGHUP forwarded to ${names.join(", ") || "no daemon"}\n`);
  });
}

async function main(argv: string[]): Promise<number | undefined> {
  const [first, ...rest] = argv;
  switch (first) {
    case "health":
      return health(rest);
    case "signal":
      return signal(rest);
    case "run":
      await run(rest);
      return undefined;
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      await run(argv);
      return undefined;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (error: unknown) => {
    if (BottleError.isInstance(error)) {
      process.stderr.write(`${formatBottleError(error)}\n`);
      process.exit(2);
    }
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
