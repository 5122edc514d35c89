import { execa } from "execa";

/** Binaries the backend shells out to; tests point them at fakes. */
export interface DockerTools {
  /** The docker CLI (`docker`). */
  docker: string;
  /** Standalone compose (`docker-compose`, v1 or a v2 binary installed under that name). */
  dockerCompose: string;
}

export const DEFAULT_TOOLS: DockerTools = { docker: "docker", dockerCompose: "docker-compose" };

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The binary could not be started at all (ENOENT, EACCES). */
  notFound: boolean;
}

export interface RunOptions {
  input?: string | Buffer;
  signal?: AbortSignal;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Runs a command to completion; never throws for a non-zero exit (callers decide). */
export async function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await execa(file, args, {
    reject: false,
    stripFinalNewline: true,
    ...(options.input !== undefined ? { input: options.input } : { stdin: "ignore" as const }),
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
  });
  const code = (result as { code?: string }).code;
  const notFound = code === "ENOENT" || code === "EACCES";
  return {
    exitCode: result.exitCode ?? (notFound ? 127 : 1),
    stdout: typeof result.stdout === "string" ? result.stdout : "",
    stderr: typeof result.stderr === "string" ? result.stderr : "",
    notFound,
  };
}

/** Last non-empty lines of a command's output, for error messages. */
export function tail(text: string, lines = 40): string {
  const all = text.split("\n").filter((l) => l.trim() !== "");
  return all.slice(-lines).join("\n");
}
