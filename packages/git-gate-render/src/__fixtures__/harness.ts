/**
 * Test harness: real `git daemon` and `sshd` upstreams on loopback, and the gate run from
 * its rendered scripts in a temp folder. Every process started here is stopped by id.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtemp, mkdir, writeFile, readFile, rm, chmod } from "node:fs/promises";
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { GitUpstreamPlan } from "@bottle/plan";
import { renderGitGate, type GitGateOptions } from "../index.js";

const run = promisify(execFile);

export const scanBin = path.join(path.dirname(createRequire(import.meta.url).resolve("@bottle/scan/package.json")), "dist", "bin.js");

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `bottle-${prefix}-`));
}

/** Environment isolated from the machine's git and ssh config. */
export function gitEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Agent",
    GIT_AUTHOR_EMAIL: "agent@example.invalid",
    GIT_COMMITTER_NAME: "Agent",
    GIT_COMMITTER_EMAIL: "agent@example.invalid",
    GIT_TERMINAL_PROMPT: "0",
    LANG: "C",
  };
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function git(env: NodeJS.ProcessEnv, cwd: string, ...args: string[]): Promise<GitResult> {
  try {
    const { stdout, stderr } = await run("git", args, { cwd, env, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

export async function gitOk(env: NodeJS.ProcessEnv, cwd: string, ...args: string[]): Promise<string> {
  const r = await git(env, cwd, ...args);
  if (r.code !== 0) throw new Error(`git ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before listening on ${port}:\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Daemon {
  port: number;
  log(): string;
  stop(): Promise<void>;
}

async function startDaemon(command: string, args: string[], port: number, env: NodeJS.ProcessEnv): Promise<Daemon> {
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      // The daemon's own process group: git daemon forks one child per connection.
      process.kill(-child.pid, "SIGTERM");
    } catch {
      child.kill("SIGTERM");
    }
    await exited;
  };
  try {
    await waitForPort(port, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, log: () => output, stop };
}

/** A plain `git daemon` serving bare repos under `basePath`, pushes enabled. */
export async function startGitDaemon(basePath: string, env: NodeJS.ProcessEnv): Promise<Daemon> {
  const port = await freePort();
  return startDaemon(
    "git",
    ["daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", `--base-path=${basePath}`, `--port=${port}`, "--listen=127.0.0.1", basePath],
    port,
    env,
  );
}

export interface Sshd extends Daemon {
  /** `ssh-ed25519 AAAA…` of the server's host key. */
  hostKey: string;
  /** Private key (OpenSSH format) accepted for the current user. */
  clientKey: string;
  user: string;
}

/** An unprivileged-ish sshd on a loopback port with temp host keys; the git user is the current user. */
export async function startSshd(dir: string, env: NodeJS.ProcessEnv): Promise<Sshd> {
  await mkdir(dir, { recursive: true });
  const hostKeyFile = path.join(dir, "host_ed25519");
  const clientKeyFile = path.join(dir, "client_ed25519");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", hostKeyFile]);
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", clientKeyFile]);
  const clientPub = await readFile(`${clientKeyFile}.pub`, "utf8");
  await writeFile(path.join(dir, "authorized_keys"), clientPub, { mode: 0o600 });
  const port = await freePort();
  const config = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${hostKeyFile}`,
    `PidFile ${path.join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
    "StrictModes no",
    "UsePAM no",
    "PermitRootLogin yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    `SetEnv PATH=${process.env.PATH ?? "/usr/bin:/bin"}`,
    "",
  ].join("\n");
  const configFile = path.join(dir, "sshd_config");
  await writeFile(configFile, config);
  // sshd insists on its privilege separation directory.
  if (!existsSync("/run/sshd")) mkdirSync("/run/sshd", { mode: 0o755, recursive: true });
  const daemon = await startDaemon("/usr/sbin/sshd", ["-D", "-e", "-f", configFile], port, env);
  const hostKey = (await readFile(`${hostKeyFile}.pub`, "utf8")).trim().split(/\s+/).slice(0, 2).join(" ");
  const user = (await run("id", ["-un"])).stdout.trim();
  return { ...daemon, hostKey, clientKey: await readFile(clientKeyFile, "utf8"), user };
}

/** A bare upstream repo with one commit on `branch`, HEAD pointing at it. */
export async function createUpstreamRepo(env: NodeJS.ProcessEnv, bare: string, branch: string, files: Record<string, string> = { "README.md": "hello\n" }): Promise<string> {
  const work = `${bare}.seed`;
  await gitOk(env, path.dirname(bare), "init", "--quiet", `--initial-branch=${branch}`, work);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(work, name)), { recursive: true });
    await writeFile(path.join(work, name), content);
  }
  await gitOk(env, work, "add", "-A");
  await gitOk(env, work, "commit", "--quiet", "-m", "initial");
  await gitOk(env, path.dirname(bare), "clone", "--quiet", "--bare", work, bare);
  await rm(work, { recursive: true, force: true });
  return gitOk(env, bare, "rev-parse", "HEAD");
}

/** Adds a commit straight to a bare upstream (out of band: not through the gate). */
export async function commitToUpstream(env: NodeJS.ProcessEnv, bare: string, branch: string, file: string, content: string): Promise<string> {
  const work = await tempDir("oob");
  await gitOk(env, work, "clone", "--quiet", "--branch", branch, bare, "w");
  await writeFile(path.join(work, "w", file), content);
  await gitOk(env, path.join(work, "w"), "add", "-A");
  await gitOk(env, path.join(work, "w"), "commit", "--quiet", "-m", `out of band: ${file}`);
  await gitOk(env, path.join(work, "w"), "push", "--quiet", "origin", branch);
  const sha = await gitOk(env, path.join(work, "w"), "rev-parse", "HEAD");
  await rm(work, { recursive: true, force: true });
  return sha;
}

export function upstreamPlan(name: string, url: string, extra: Partial<GitUpstreamPlan> = {}): GitUpstreamPlan {
  return {
    name,
    url,
    transport: url.startsWith("git://") ? "git" : url.startsWith("https://") ? "https" : url.startsWith("http://") ? "http" : "ssh",
    username: "x-access-token",
    protectedBranches: ["main", "master"],
    allowedRefs: [],
    extraHosts: {},
    gateUrl: `git://git-gate/${name}.git`,
    insteadOf: [],
    ...extra,
  };
}

export interface Gate extends Daemon {
  root: string;
  mirrors: string;
  url(name: string): string;
}

/**
 * Renders the gate with every path inside `root`, writes the files with their modes and
 * credentials (read-only, 0444, like a read-only secrets mount), and runs the entrypoint,
 * which execs git daemon on a free loopback port.
 */
export async function startGate(
  root: string,
  upstreams: GitUpstreamPlan[],
  env: NodeJS.ProcessEnv,
  credentials: Record<string, { ssh_key?: string; token?: string }> = {},
  knownSecrets: Record<string, string> = {},
  scanner: string[] = [process.execPath, scanBin],
): Promise<Gate> {
  const port = await freePort();
  const options: GitGateOptions = {
    configDir: path.join(root, "etc/git-gate"),
    secretsDir: path.join(root, "secrets/git"),
    secretsJson: path.join(root, "secrets/secrets.json"),
    mirrorsDir: path.join(root, "state/git"),
    auditFile: path.join(root, "state/audit/git-gate.jsonl"),
    upstreamCaFile: path.join(root, "etc/ca/upstream-ca.pem"),
    port,
    listen: "127.0.0.1",
    scanner,
  };
  const rendered = renderGitGate(upstreams, options);
  for (const file of rendered.files) {
    await mkdir(path.dirname(file.path), { recursive: true });
    await writeFile(file.path, file.content, { mode: file.mode });
  }
  for (const [name, files] of Object.entries(credentials)) {
    for (const [kind, value] of Object.entries(files)) {
      const file = path.join(options.secretsDir!, name, kind);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, value);
      await chmod(file, 0o444);
    }
  }
  await mkdir(path.dirname(options.secretsJson!), { recursive: true });
  await writeFile(options.secretsJson!, JSON.stringify(knownSecrets), { mode: 0o600 });
  const daemon = await startDaemon("sh", [rendered.entrypoint], port, { ...env, TMPDIR: root });
  return { ...daemon, root, mirrors: options.mirrorsDir!, url: (name) => `git://127.0.0.1:${port}/${name}.git` };
}

/** git with text on stdin. */
export async function gitWithInput(env: NodeJS.ProcessEnv, cwd: string, input: string, ...args: string[]): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Waits (up to 10 s) until a daemon's log contains `text`; returns the log either way. */
export async function logContaining(daemon: Daemon, text: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  while (!daemon.log().includes(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return daemon.log();
}
