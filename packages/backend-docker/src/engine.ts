import { constants } from "node:fs";
import { access, mkdir, readFile, realpath, rename, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BottleError } from "@bottle/errors";
import { DEFAULT_TOOLS, run, tail, type DockerTools, type RunOptions, type RunResult } from "./exec.js";

export type ComposeFlavour = "v2" | "v1";

/** How to invoke compose on this machine. */
export interface ComposeCommand {
  /** `v2` (`docker compose` plugin or a v2 standalone binary) or `v1` (Python docker-compose). */
  flavour: ComposeFlavour;
  /** Executable and leading arguments: `["docker", "compose"]` or `["docker-compose"]`. */
  argv: string[];
  version: string;
}

/**
 * Finds compose: the `docker compose` plugin first, then a standalone `docker-compose`
 * (Debian ships v1 1.29 under that name; a v2 binary may be installed there too).
 */
export async function detectCompose(tools: DockerTools = DEFAULT_TOOLS): Promise<ComposeCommand> {
  const plugin = await run(tools.docker, ["compose", "version", "--short"]);
  const pluginVersion = plugin.exitCode === 0 ? parseVersion(plugin.stdout) : undefined;
  if (pluginVersion) return { flavour: "v2", argv: [tools.docker, "compose"], version: pluginVersion };

  const standalone = await run(tools.dockerCompose, ["version", "--short"]);
  const standaloneVersion = standalone.exitCode === 0 ? parseVersion(standalone.stdout) : undefined;
  if (standaloneVersion) {
    return { flavour: standaloneVersion.startsWith("1.") ? "v1" : "v2", argv: [tools.dockerCompose], version: standaloneVersion };
  }
  throw new BottleError("neither `docker compose` nor `docker-compose` is available", {
    code: "DOCKER_COMPOSE_NOT_FOUND",
    hint: "Install the compose plugin (docker-compose-plugin) or, on Debian, `apt-get install docker-compose`; check it with `docker compose version`.",
    details: { plugin: tail(plugin.stderr || plugin.stdout, 3), standalone: standalone.notFound ? "not installed" : tail(standalone.stderr || standalone.stdout, 3) },
  });
}

/**
 * detectCompose, remembering a standalone `docker-compose`'s answer in
 * `$XDG_CACHE_HOME/bottle/compose.json` (default `~/.cache/bottle`), keyed by the
 * binary's path, size, mtime and inode: Debian's v1 is Python and takes 0.5–1 s just to
 * print its version. The `docker compose` plugin is still asked first every time (it
 * answers in milliseconds, and may have been installed since). Cache trouble of any kind
 * only means asking the binary.
 */
export async function detectComposeCached(tools: DockerTools = DEFAULT_TOOLS): Promise<ComposeCommand> {
  const plugin = await run(tools.docker, ["compose", "version", "--short"]);
  const pluginVersion = plugin.exitCode === 0 ? parseVersion(plugin.stdout) : undefined;
  if (pluginVersion) return { flavour: "v2", argv: [tools.docker, "compose"], version: pluginVersion };

  const binary = await whichFile(tools.dockerCompose);
  const info = binary ? await stat(binary).catch(() => undefined) : undefined;
  const key = binary && info ? `${binary}:${info.size}:${info.mtimeMs}:${info.ino}` : undefined;
  const cacheFile = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "bottle", "compose.json");
  if (key) {
    const cached = await readFile(cacheFile, "utf8")
      .then((text) => JSON.parse(text) as { key?: string; compose?: ComposeCommand })
      .catch(() => undefined);
    if (cached?.key === key && cached.compose?.argv?.[0] === tools.dockerCompose) return cached.compose;
  }
  const compose = await detectCompose(tools);
  if (key && compose.argv[0] === tools.dockerCompose) {
    await mkdir(path.dirname(cacheFile), { recursive: true })
      .then(() => writeFile(`${cacheFile}.${process.pid}`, `${JSON.stringify({ key, compose })}\n`))
      .then(() => rename(`${cacheFile}.${process.pid}`, cacheFile))
      .catch(() => undefined);
  }
  return compose;
}

/** The file a command name runs (PATH lookup for a bare name), or undefined. */
async function whichFile(command: string): Promise<string | undefined> {
  const candidates = command.includes("/") ? [path.resolve(command)] : (process.env.PATH ?? "").split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, command));
  for (const candidate of candidates) {
    const ok = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (ok) return realpath(candidate).catch(() => candidate);
  }
  return undefined;
}

/** `1.29.2` out of `1.29.2`, `v2.29.1`, `docker-compose version 1.29.2, build unknown`. */
export function parseVersion(text: string): string | undefined {
  return /v?(\d+\.\d+\.\d+[\w.+-]*)/.exec(text.trim())?.[1];
}

/** Checks that the docker CLI exists and reaches an engine; returns the server version. */
export async function checkEngine(tools: DockerTools = DEFAULT_TOOLS): Promise<{ serverVersion: string }> {
  const info = await run(tools.docker, ["info", "--format", "{{.ServerVersion}}"]);
  if (info.notFound) {
    throw new BottleError(`the docker CLI (${tools.docker}) is not installed`, {
      code: "DOCKER_NOT_FOUND",
      hint: "Install Docker (Debian: `apt-get install docker.io docker-compose`) or use the smolvm backend (--backend smolvm).",
    });
  }
  const serverVersion = info.stdout.trim();
  if (info.exitCode !== 0 || serverVersion === "" || serverVersion === "<no value>") {
    throw new BottleError("cannot reach the Docker engine (`docker info` failed)", {
      code: "DOCKER_ENGINE_UNAVAILABLE",
      hint: "Start it (`sudo systemctl start docker`, or `bash scripts/docker-engine.sh` in this repository) and check that your user may use /var/run/docker.sock (group `docker`) or DOCKER_HOST.",
      details: { output: tail(info.stderr || info.stdout, 5) },
    });
  }
  return { serverVersion };
}

/**
 * The docker CLI plus compose: everything the backend shells out to. Compose is detected
 * lazily, on the first `composeCommand()`/`composeRun()`: Debian's docker-compose v1 is a
 * Python program (0.5–1 s per invocation), and most commands (stop, exec, logs, ls) never
 * need it. Call `composeCommand()` early to overlap the detection with other work.
 */
export class DockerCli {
  #compose: Promise<ComposeCommand> | undefined;

  constructor(
    readonly tools: DockerTools,
    compose?: ComposeCommand | Promise<ComposeCommand>,
  ) {
    if (compose) this.#compose = Promise.resolve(compose);
  }

  /** Checks the engine (throws BottleError with a hint when it is missing or unreachable). */
  static async connect(tools: DockerTools = DEFAULT_TOOLS): Promise<DockerCli> {
    await checkEngine(tools);
    return new DockerCli(tools);
  }

  /** The compose command (detected once, on first use); throws DOCKER_COMPOSE_NOT_FOUND. */
  composeCommand(): Promise<ComposeCommand> {
    if (!this.#compose) {
      this.#compose = detectComposeCached(this.tools);
      // A detection started early and awaited later must not count as unhandled meanwhile.
      this.#compose.catch(() => undefined);
    }
    return this.#compose;
  }

  docker(args: readonly string[], options?: RunOptions): Promise<RunResult> {
    return run(this.tools.docker, args, options);
  }

  /** docker …, throwing a BottleError (with the command's output) when it fails. */
  async dockerOk(args: readonly string[], options?: RunOptions & { what?: string }): Promise<string> {
    const result = await this.docker(args, options);
    if (result.exitCode !== 0) throw commandError(options?.what ?? `docker ${args[0]}`, [this.tools.docker, ...args], result);
    return result.stdout;
  }

  /** compose -p <project> -f <file> … */
  async composeRun(project: string, file: string, args: readonly string[], options?: RunOptions): Promise<RunResult> {
    const [bin, ...lead] = (await this.composeCommand()).argv;
    return run(bin!, [...lead, "-p", project, "-f", file, ...args], options);
  }
}

export function commandError(what: string, argv: readonly string[], result: RunResult): BottleError {
  return new BottleError(`${what} failed (exit ${result.exitCode}): ${tail(result.stderr || result.stdout, 12) || "no output"}`, {
    code: "DOCKER_COMMAND_FAILED",
    hint: "Check the engine with `docker info`; `bottle doctor` runs the same checks.",
    details: { argv },
  });
}
