import { readFile } from "node:fs/promises";
import { BottleError } from "@bottle/errors";

/** Same shape as `DaemonSpec` in `@bottle/plan`; the name is free-form here. */
export interface SupervisedDaemon {
  name: string;
  command: string[];
  env: Record<string, string>;
  cwd: string;
  /** Receives SIGHUP when the supervisor is asked to reload. */
  reloadable: boolean;
}

/** Contents of `daemons.json` (docs/bundle-contract.md). */
export interface SupervisorConfig {
  healthPort: number;
  daemons: SupervisedDaemon[];
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/;

function invalid(source: string, why: string): BottleError {
  return new BottleError(`Supervisor config ${source} is invalid: ${why}`, {
    code: "SUPERVISOR_CONFIG_INVALID",
    hint: "daemons.json is rendered by bottle from the plan; re-render it with `bottle start` rather than editing it.",
  });
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === "string")
  );
}

/** Checks an already-parsed `daemons.json` value. Throws BottleError with the first problem. */
export function parseSupervisorConfig(value: unknown, source = "daemons.json"): SupervisorConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(source, "expected an object with healthPort and daemons");
  }
  const { healthPort, daemons } = value as Record<string, unknown>;
  if (typeof healthPort !== "number" || !Number.isInteger(healthPort) || healthPort < 0 || healthPort > 65535) {
    throw invalid(source, "healthPort must be an integer port (0 picks a free one)");
  }
  if (!Array.isArray(daemons)) throw invalid(source, "daemons must be an array");
  const seen = new Set<string>();
  const parsed = daemons.map((d: unknown, i): SupervisedDaemon => {
    if (typeof d !== "object" || d === null) throw invalid(source, `daemons[${i}] must be an object`);
    const { name, command, env = {}, cwd = "/", reloadable = false } = d as Record<string, unknown>;
    if (typeof name !== "string" || !NAME.test(name)) {
      throw invalid(source, `daemons[${i}].name must match ${NAME.source}`);
    }
    if (seen.has(name)) throw invalid(source, `daemon name "${name}" appears twice`);
    seen.add(name);
    if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === "string")) {
      throw invalid(source, `daemons[${i}] (${name}).command must be a non-empty array of strings`);
    }
    if (!isStringRecord(env)) throw invalid(source, `daemons[${i}] (${name}).env must map names to strings`);
    if (typeof cwd !== "string" || cwd === "") throw invalid(source, `daemons[${i}] (${name}).cwd must be a path`);
    if (typeof reloadable !== "boolean") throw invalid(source, `daemons[${i}] (${name}).reloadable must be a boolean`);
    return { name, command: command as string[], env, cwd, reloadable };
  });
  return { healthPort, daemons: parsed };
}

/** Reads and checks `daemons.json`. */
export async function readSupervisorConfig(file: string): Promise<SupervisorConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new BottleError(`Cannot read supervisor config ${file}: ${(cause as Error).message}`, {
      code: "SUPERVISOR_CONFIG_MISSING",
      hint: "Pass the rendered daemons.json with --config (in the bundle: /etc/bottle/daemons.json).",
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw invalid(file, `not JSON (${(cause as Error).message})`);
  }
  return parseSupervisorConfig(json, file);
}
