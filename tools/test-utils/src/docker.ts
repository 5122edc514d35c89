import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

/** Every container/network these helpers create carries this label (value "1"). */
export const TEST_LABEL = "dev.bottle.test";

/** Also labelled with this run's id, so cleanup removes only what this process made. */
export const TEST_RUN_LABEL = "dev.bottle.test.run";
export const TEST_RUN_ID = `${process.pid}-${randomBytes(3).toString("hex")}`;

const DOCKER = process.env.BOTTLE_TEST_DOCKER ?? "docker";

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function docker(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const res = await execa(DOCKER, args, {
    reject: false,
    ...(options.input === undefined ? { stdin: "ignore" as const } : { input: options.input }),
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
  });
  return { exitCode: res.exitCode ?? 1, stdout: String(res.stdout ?? ""), stderr: String(res.stderr ?? "") };
}

async function dockerOk(args: string[]): Promise<string> {
  const res = await docker(args);
  if (res.exitCode !== 0) {
    throw new Error(`docker ${args.join(" ")} failed (exit ${res.exitCode}): ${res.stderr.trim()}`);
  }
  return res.stdout.trim();
}

/** A name unique to this run: `bottle-test-<prefix>-<run id>`. */
export function uniqueName(prefix: string): string {
  return `bottle-test-${prefix}-${TEST_RUN_ID}-${randomBytes(2).toString("hex")}`;
}

/**
 * Throws when no Docker engine answers. Tests never start one themselves: CI does
 * (scripts/test.sh → scripts/docker-engine.sh).
 */
export async function ensureDocker(): Promise<string> {
  const res = await docker(["info", "--format", "{{.ServerVersion}}"]);
  if (res.exitCode !== 0) {
    throw new Error(
      "No Docker engine answers (`docker info` failed). Integration tests need one: " +
        "start it with `bash scripts/docker-engine.sh` (as root), or run `pnpm test`, which does. " +
        `docker said: ${res.stderr.trim()}`,
    );
  }
  return res.stdout.trim();
}

/** Throws a clear error when `tag` is not built yet. */
export async function ensureImage(tag: string): Promise<void> {
  const res = await docker(["image", "inspect", "--format", "{{.Id}}", tag]);
  if (res.exitCode !== 0) {
    throw new Error(`Image ${tag} is missing. Build the images first: \`pnpm bottle build --offline-base\` (or \`pnpm test\`).`);
  }
}

const created = { containers: new Set<string>(), networks: new Set<string>() };

export interface TestNetwork {
  name: string;
  id: string;
  /** The IPv4 gateway docker assigned (the host's address on the bridge, unless inhibited). */
  gateway(): Promise<string>;
  remove(): Promise<void>;
}

export interface TestNetworkOptions {
  /** `--internal`: no route out of the network. */
  internal?: boolean;
  /** Bridge driver options (`-o`), e.g. `com.docker.network.bridge.inhibit_ipv4: "true"`. */
  driverOpts?: Record<string, string>;
}

/** Creates a bridge network labelled for cleanup. */
export async function createTestNetwork(name: string, options: TestNetworkOptions = {}): Promise<TestNetwork> {
  const args = ["network", "create", "--driver", "bridge", "--label", `${TEST_LABEL}=1`, "--label", `${TEST_RUN_LABEL}=${TEST_RUN_ID}`];
  if (options.internal) args.push("--internal");
  for (const [key, value] of Object.entries(options.driverOpts ?? {})) args.push("--opt", `${key}=${value}`);
  args.push(name);
  const id = await dockerOk(args);
  created.networks.add(name);
  return {
    name,
    id,
    gateway: () => dockerOk(["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", name]),
    async remove() {
      await docker(["network", "rm", name]);
      created.networks.delete(name);
    },
  };
}

export interface RunContainerOptions {
  image: string;
  name?: string;
  /** First network (`--network`); more are connected after start. */
  network?: string;
  networks?: string[];
  aliases?: string[];
  command?: string[];
  entrypoint?: string;
  env?: Record<string, string>;
  user?: string;
  /** docker's `--init`; images with tini as entrypoint do not need it. */
  init?: boolean;
  labels?: Record<string, string>;
  /** Anything else for `docker run`, placed before the image. */
  extraArgs?: string[];
}

export interface TestContainer {
  id: string;
  name: string;
  exec(command: string[], options?: DockerExecOptions): Promise<ExecResult>;
  /** The container's address on `network`. */
  ip(network: string): Promise<string>;
  logs(): Promise<string>;
  remove(): Promise<void>;
}

/** `docker run -d` with the test labels; returns a handle. */
export async function runContainer(options: RunContainerOptions): Promise<TestContainer> {
  const name = options.name ?? uniqueName("ctr");
  const args = ["run", "--detach", "--name", name, "--label", `${TEST_LABEL}=1`, "--label", `${TEST_RUN_LABEL}=${TEST_RUN_ID}`];
  for (const [key, value] of Object.entries(options.labels ?? {})) args.push("--label", `${key}=${value}`);
  const [first, ...rest] = [...(options.network ? [options.network] : []), ...(options.networks ?? [])];
  if (first) args.push("--network", first);
  for (const alias of options.aliases ?? []) args.push("--network-alias", alias);
  for (const [key, value] of Object.entries(options.env ?? {})) args.push("--env", `${key}=${value}`);
  if (options.user) args.push("--user", options.user);
  if (options.entrypoint !== undefined) args.push("--entrypoint", options.entrypoint);
  if (options.init) args.push("--init");
  args.push(...(options.extraArgs ?? []), options.image, ...(options.command ?? []));
  created.containers.add(name);
  const id = await dockerOk(args);
  for (const network of rest) await dockerOk(["network", "connect", network, name]);
  return {
    id,
    name,
    exec: (command, execOptions) => dockerExec(name, command, execOptions),
    ip: (network) => containerIp(name, network),
    logs: async () => {
      const res = await docker(["logs", name]);
      return res.stdout + res.stderr;
    },
    async remove() {
      await docker(["rm", "--force", "--volumes", name]);
      created.containers.delete(name);
    },
  };
}

export interface DockerExecOptions {
  user?: string;
  env?: Record<string, string>;
  workdir?: string;
  /** Sent on stdin. */
  input?: string;
  timeoutMs?: number;
}

/** `docker exec`; never throws on a non-zero exit, returns it. */
export async function dockerExec(container: string, command: string[], options: DockerExecOptions = {}): Promise<ExecResult> {
  const args = ["exec"];
  if (options.input !== undefined) args.push("--interactive");
  if (options.user) args.push("--user", options.user);
  if (options.workdir) args.push("--workdir", options.workdir);
  for (const [key, value] of Object.entries(options.env ?? {})) args.push("--env", `${key}=${value}`);
  args.push(container, ...command);
  return docker(args, {
    ...(options.input === undefined ? {} : { input: options.input }),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
}

export async function containerIp(container: string, network: string): Promise<string> {
  const ip = await dockerOk([
    "inspect",
    "--format",
    `{{with index .NetworkSettings.Networks "${network}"}}{{.IPAddress}}{{end}}`,
    container,
  ]);
  if (!ip) throw new Error(`${container} has no address on network ${network}`);
  return ip;
}

/**
 * Removes every container and network this process created through these helpers
 * (containers first, networks after), plus anything else labelled with this run's id.
 */
export async function cleanupDockerTestResources(): Promise<void> {
  const labelled = await docker(["ps", "--all", "--quiet", "--filter", `label=${TEST_RUN_LABEL}=${TEST_RUN_ID}`]);
  const containers = new Set([...created.containers, ...labelled.stdout.split("\n").filter(Boolean)]);
  if (containers.size > 0) await docker(["rm", "--force", "--volumes", ...containers]);
  created.containers.clear();
  const nets = await docker(["network", "ls", "--quiet", "--filter", `label=${TEST_RUN_LABEL}=${TEST_RUN_ID}`]);
  const networks = new Set([...created.networks, ...nets.stdout.split("\n").filter(Boolean)]);
  for (const network of networks) await docker(["network", "rm", network]);
  created.networks.clear();
}

/**
 * The tags the CLI of this checkout builds and runs (`bottle/<name>:<version>-<recipe hash>`),
 * read from apps/cli/dist/images/images.json, which `pnpm build` writes.
 */
export function bottleImageTags(): { agent: string; sidecars: string } {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "apps", "cli", "dist", "images", "images.json");
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`pnpm build\` first.`);
  return (JSON.parse(readFileSync(file, "utf8")) as { tags: { agent: string; sidecars: string } }).tags;
}
