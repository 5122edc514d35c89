import { appendFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { many, one, parseArgs, SPECS, UsageError, type Parsed } from "./args.js";
import { runProcess } from "./proc.js";

/**
 * smolvm-standin: a command-line-compatible STAND-IN for the smolvm 1.9.3 CLI, for tests
 * on machines without KVM/libkrun. Each machine is a docker container, so commands
 * really run in a Linux guest. Same argument shapes, JSON shapes and error strings as
 * the pinned smolvm for the subset bottle uses; not a VM, not an isolation boundary.
 */

export const STANDIN_VERSION_LINE = "smolvm 1.9.3";
export const STANDIN_TEST_LABEL = "dev.bottle.test";
export const STANDIN_RUN_LABEL = "dev.bottle.standin.run";
export const STANDIN_MACHINE_LABEL = "dev.bottle.standin.machine";

interface MachineRecord {
  name: string;
  state: "created" | "running" | "stopped";
  image: string;
  cpus: number;
  mem: number;
  labels: Record<string, string>;
  network: boolean;
  networkName: string | null;
  allowCidrs: string[];
  dns: string | null;
  env: string[];
  workdir: string | null;
  volumes: string[];
  command: string[];
  createdAt: number;
  container: string;
}

interface Ctx {
  stateDir: string;
  runId: string;
  docker: string;
  simulate?: string | undefined;
  /** Image with iptables used to emulate --allow-cidr (unset: not emulated). */
  fenceImage?: string | undefined;
  /** exec connects docker to this process's stdio (false when served over a socket). */
  passthrough: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
}

class SmolvmError extends Error {}

const E = {
  vmNotFound: (name: string) => new SmolvmError(`vm not found: ${name}`),
  notRunning: (name: string) =>
    new SmolvmError(`agent operation failed: connect: machine '${name}' is not running. Use 'smolvm machine start --name ${name}' first.`),
  exists: (name: string) => new SmolvmError(`config operation failed: create machine: machine '${name}' already exists or is being created`),
  statusNotFound: (name: string) => new SmolvmError(`config operation failed: machine status: machine '${name}' not found`),
  kvm: () => new SmolvmError("kvm not available: KVM not available. Ensure KVM kernel module is loaded.\nTry: sudo modprobe kvm && sudo modprobe kvm_intel  # (or kvm_amd)"),
  config: (op: string, reason: string) => new SmolvmError(`config operation failed: ${op}: ${reason}`),
};

async function load(ctx: Ctx): Promise<Record<string, MachineRecord>> {
  try {
    return JSON.parse(await readFile(path.join(ctx.stateDir, "machines.json"), "utf8")) as Record<string, MachineRecord>;
  } catch {
    return {};
  }
}

async function save(ctx: Ctx, machines: Record<string, MachineRecord>): Promise<void> {
  await mkdir(ctx.stateDir, { recursive: true });
  const file = path.join(ctx.stateDir, "machines.json");
  await writeFile(`${file}.tmp`, JSON.stringify(machines, null, 2));
  await rename(`${file}.tmp`, file);
}

async function docker(ctx: Ctx, args: string[], input?: Buffer | string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return runProcess(ctx.docker, args, input !== undefined ? { input } : {});
}

async function mustDocker(ctx: Ctx, args: string[], input?: Buffer | string): Promise<string> {
  const r = await docker(ctx, args, input);
  if (r.exitCode !== 0) throw new SmolvmError(`stand-in: docker ${args[0]} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

async function containerRunning(ctx: Ctx, m: MachineRecord): Promise<boolean> {
  const r = await docker(ctx, ["inspect", "--format", "{{.State.Running}}", m.container]);
  return r.exitCode === 0 && r.stdout.trim() === "true";
}

async function resolvedState(ctx: Ctx, m: MachineRecord): Promise<string> {
  if (m.state === "created") return "created";
  return (await containerRunning(ctx, m)) ? "running" : "stopped";
}

function statusJson(m: MachineRecord, state: string): Record<string, unknown> {
  // same keys, in the same order, as smolvm's machine_status_json
  return {
    name: m.name,
    state,
    cpus: m.cpus,
    memory_mib: m.mem,
    pid: null,
    mounts: m.volumes.length,
    ports: 0,
    created_at: m.createdAt,
    storage_gb: null,
    overlay_gb: null,
    image: m.image,
    entrypoint: [],
    cmd: m.command,
    ephemeral: false,
    gpu: false,
    gpu_vram_mib: null,
    cuda: false,
    forkable: false,
    cuda_fork_pool_size: null,
    cuda_vram_limit_mib: null,
    forkpoint_held: false,
    labels: m.labels,
    restart_policy: "never",
    restart_max_retries: 0,
    restart_count: 0,
    health_cmd: null,
    health_interval_secs: null,
    health_timeout_secs: null,
    health_retries: null,
    health_startup_grace_secs: null,
    network: m.network,
  };
}

/** Maps `--image` to a local docker image: a `docker save` archive (by its RepoTags, loaded if absent) or a reference. */
async function dockerImage(ctx: Ctx, image: string): Promise<string> {
  const local = image.startsWith("/") || image.startsWith("./") || image.startsWith("../") || /\.(tar|tar\.gz|tgz)$/.test(image);
  if (!local) return image;
  const manifest = await runProcess("tar", ["-xOf", image, "manifest.json"]);
  if (manifest.exitCode !== 0) throw new SmolvmError(`stand-in: ${image} is not a docker save archive (only archives and references are supported)`);
  const entries = JSON.parse(String(manifest.stdout)) as { RepoTags?: string[] | null }[];
  const tag = entries[0]?.RepoTags?.[0];
  if (tag && (await docker(ctx, ["image", "inspect", tag])).exitCode === 0) return tag;
  const loaded = await mustDocker(ctx, ["load", "--input", image]);
  const m = /Loaded image(?: ID)?: (\S+)/.exec(loaded);
  if (!m?.[1]) throw new SmolvmError(`stand-in: docker load printed no image for ${image}`);
  return m[1];
}

async function ensureNetwork(ctx: Ctx, name: string): Promise<string> {
  const net = `smolvm-standin-${name}`;
  if ((await docker(ctx, ["network", "inspect", net])).exitCode !== 0) {
    // internal: members reach each other, nothing else (the stand-in's approximation of a smolvm named network + allow-list)
    await mustDocker(ctx, ["network", "create", "--internal", "--label", `${STANDIN_TEST_LABEL}=1`, "--label", `${STANDIN_RUN_LABEL}=${ctx.runId}`, net]);
  }
  return net;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

/** One-file ustar archive, for `docker cp -a -` (keeps mode and owner). */
function singleFileTar(name: string, content: Buffer, mode: number, uid: number, gid: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, 8, "ascii");
  h.write(octal(uid, 8), 108, 8, "ascii");
  h.write(octal(gid, 8), 116, 8, "ascii");
  h.write(octal(content.length, 12), 124, 12, "ascii");
  h.write(octal(Math.floor(Date.now() / 1000), 12), 136, 12, "ascii");
  h.write("        ", 148, 8, "ascii");
  h.write("0", 156, 1, "ascii");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7), 148, 7, "ascii");
  h.write(" ", 155, 1, "ascii");
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([h, content, pad, Buffer.alloc(1024)]);
}

async function requireRunning(ctx: Ctx, name: string): Promise<MachineRecord> {
  const m = (await load(ctx))[name];
  if (!m) throw E.vmNotFound(name);
  if (m.state === "created" || !(await containerRunning(ctx, m))) throw E.notRunning(name);
  return m;
}

async function create(ctx: Ctx, p: Parsed): Promise<number> {
  const name = one(p, "name") ?? `vm-${Date.now().toString(36)}`;
  const machines = await load(ctx);
  if (machines[name]) throw E.exists(name);
  const labels: Record<string, string> = {};
  for (const spec of many(p, "label")) {
    const i = spec.indexOf("=");
    if (i <= 0) throw E.config("--label", `expected KEY=VALUE, got '${spec}'`);
    labels[spec.slice(0, i)] = spec.slice(i + 1);
  }
  const image = one(p, "image");
  if (!image) throw E.config("create machine", "the stand-in needs --image");
  const networkName = one(p, "network") ?? null;
  const allowCidrs = many(p, "allow-cidr");
  machines[name] = {
    name,
    state: "created",
    image,
    // smolvm's defaults: DEFAULT_MICROVM_CPU_COUNT, DEFAULT_MICROVM_MEMORY_MIB (src/data/resources.rs)
    cpus: Number(one(p, "cpus") ?? 4),
    mem: Number(one(p, "mem") ?? 8192),
    labels,
    network: p.bools.has("net") || networkName !== null || allowCidrs.length > 0 || one(p, "dns") !== undefined,
    networkName,
    allowCidrs,
    dns: one(p, "dns") ?? null,
    env: many(p, "env"),
    workdir: one(p, "workdir") ?? null,
    volumes: many(p, "volume"),
    command: p.rest,
    createdAt: Math.floor(Date.now() / 1000),
    container: `smolvm-standin-${name}`,
  };
  await save(ctx, machines);
  ctx.out(`Created machine: ${name}\n`);
  return 0;
}

async function start(ctx: Ctx, p: Parsed): Promise<number> {
  const name = one(p, "name") ?? "default";
  const machines = await load(ctx);
  const m = machines[name];
  if (!m) throw E.vmNotFound(name);
  if (ctx.simulate === "kvm-unavailable") throw E.kvm();
  ctx.err(`Starting machine '${name}'...\n`);
  if (await containerRunning(ctx, m)) return 0;
  await docker(ctx, ["rm", "-f", m.container]);
  const image = await dockerImage(ctx, m.image);
  let workload = m.command;
  if (workload.length === 0) {
    const cfg = JSON.parse(await mustDocker(ctx, ["image", "inspect", "--format", "{{json .Config}}", image])) as { Entrypoint?: string[] | null; Cmd?: string[] | null };
    workload = [...(cfg.Entrypoint ?? []), ...(cfg.Cmd ?? [])];
  }
  const args = ["run", "--detach", "--init", "--name", m.container, "--hostname", name.slice(0, 63)];
  args.push("--label", `${STANDIN_TEST_LABEL}=1`, "--label", `${STANDIN_RUN_LABEL}=${ctx.runId}`, "--label", `${STANDIN_MACHINE_LABEL}=${name}`);
  args.push("--network", m.networkName ? await ensureNetwork(ctx, m.networkName) : m.network ? "bridge" : "none");
  if (m.dns) args.push("--dns", m.dns);
  // a microVM may have more vCPUs than the host has cores; docker refuses that
  args.push("--cpus", String(Math.min(m.cpus, os.cpus().length)), "--memory", `${m.mem}m`);
  // smolvm's container spec mounts tmpfs on /run and /tmp (crates/smolvm-agent/src/oci.rs)
  args.push("--tmpfs", "/run", "--tmpfs", "/tmp");
  for (const e of m.env) args.push("--env", e);
  if (m.workdir) args.push("--workdir", m.workdir);
  for (const v of m.volumes) args.push("--volume", v);
  args.push("--entrypoint", "/bin/sh", image, "-c", 'if [ "$#" -gt 0 ]; then "$@" & fi; while :; do sleep 3600; done', "standin-init", ...workload);
  await mustDocker(ctx, args);
  if (ctx.fenceImage && m.allowCidrs.length > 0) await fenceMachine(ctx, m.container, m.allowCidrs);
  m.state = "running";
  await save(ctx, machines);
  return 0;
}

/**
 * --allow-cidr, emulated: the guest may reach loopback (docker's DNS) and the allowed
 * CIDRs, nothing else, by iptables in the container's network namespace, set from a
 * one-shot NET_ADMIN container (the guest itself holds no NET_ADMIN). smolvm enforces the
 * allow-list in its own network stack; this only makes the stand-in behave alike.
 */
async function fenceMachine(ctx: Ctx, container: string, cidrs: string[]): Promise<void> {
  const rules = [
    "iptables -w -A OUTPUT -o lo -j ACCEPT",
    ...cidrs.map((c) => `iptables -w -A OUTPUT -d ${c} -j ACCEPT`),
    "iptables -w -A OUTPUT -j REJECT",
    "ip6tables -w -A OUTPUT -o lo -j ACCEPT",
    "ip6tables -w -A OUTPUT -j REJECT",
  ];
  await mustDocker(ctx, [
    "run", "--rm", "--label", `${STANDIN_TEST_LABEL}=1`, "--label", `${STANDIN_RUN_LABEL}=${ctx.runId}`,
    "--network", `container:${container}`, "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
    "--entrypoint", "sh", ctx.fenceImage!, "-c", rules.join(" && "),
  ]);
}

async function stop(ctx: Ctx, p: Parsed): Promise<number> {
  const name = one(p, "name") ?? "default";
  const machines = await load(ctx);
  const m = machines[name];
  if (!m) throw E.vmNotFound(name);
  if (m.state !== "created" && (await containerRunning(ctx, m))) {
    ctx.out(`Stopping machine '${name}'...\n`);
    await docker(ctx, ["stop", "--time", "1", m.container]);
  }
  if (m.state !== "created") m.state = "stopped";
  await save(ctx, machines);
  ctx.out(`Machine '${name}' stopped\n`);
  return 0;
}

async function remove(ctx: Ctx, p: Parsed): Promise<number> {
  const name = one(p, "name");
  if (!name) throw new UsageError("the following required arguments were not provided:\n  --name <NAME>");
  const machines = await load(ctx);
  const m = machines[name];
  if (!m) throw E.vmNotFound(name);
  await docker(ctx, ["rm", "--force", "--volumes", m.container]);
  delete machines[name];
  await save(ctx, machines);
  if (m.networkName && !Object.values(machines).some((x) => x.networkName === m.networkName)) {
    await docker(ctx, ["network", "rm", `smolvm-standin-${m.networkName}`]);
  }
  ctx.out(`Deleted machine: ${name}\n`);
  return 0;
}

async function ls(ctx: Ctx, p: Parsed): Promise<number> {
  const machines = Object.values(await load(ctx)).sort((a, b) => a.name.localeCompare(b.name));
  if (!p.bools.has("json")) {
    if (machines.length === 0) ctx.out("No machines found\n");
    for (const m of machines) ctx.out(`${m.name.padEnd(20)} ${(await resolvedState(ctx, m)).padEnd(12)} ${m.cpus} ${m.mem} MiB\n`);
    return 0;
  }
  if (machines.length === 0) {
    ctx.out("[]\n");
    return 0;
  }
  const rows = [];
  for (const m of machines) rows.push(statusJson(m, await resolvedState(ctx, m)));
  ctx.out(`${JSON.stringify(rows, null, 2)}\n`);
  return 0;
}

async function status(ctx: Ctx, p: Parsed): Promise<number> {
  const name = one(p, "name") ?? "default";
  const m = (await load(ctx))[name];
  if (p.bools.has("json")) {
    if (!m) throw E.statusNotFound(name);
    ctx.out(`${JSON.stringify(statusJson(m, await resolvedState(ctx, m)), null, 2)}\n`);
    return 0;
  }
  if (!m) throw E.vmNotFound(name);
  ctx.out(`Machine '${name}': ${await resolvedState(ctx, m)}\n`);
  return 0;
}

async function exec(ctx: Ctx, p: Parsed): Promise<number> {
  if (p.rest.length === 0) throw new UsageError("the following required arguments were not provided:\n  <COMMAND>...");
  const name = one(p, "name") ?? "default";
  const m = await requireRunning(ctx, name);
  const args = ["exec"];
  if (p.bools.has("interactive")) args.push("--interactive");
  if (p.bools.has("tty")) args.push("--tty");
  if (p.bools.has("detach")) args.push("--detach");
  for (const e of many(p, "env")) args.push("--env", e);
  const workdir = one(p, "workdir");
  if (workdir) args.push("--workdir", workdir);
  args.push(m.container, ...p.rest);
  if (ctx.passthrough) return (await runProcess(ctx.docker, args, { inherit: true })).exitCode;
  // served over the stand-in socket: capture and forward (interactive execs never come this way)
  const r = await runProcess(ctx.docker, args);
  if (r.stdout) ctx.out(r.stdout);
  if (r.stderr) ctx.err(r.stderr);
  return r.exitCode;
}

async function cp(ctx: Ctx, p: Parsed): Promise<number> {
  const [src, dst] = p.positionals;
  if (!src || !dst) throw new UsageError("the following required arguments were not provided:\n  <SRC>\n  <DST>");
  const remote = (s: string) => {
    const i = s.indexOf(":");
    return i > 0 ? { machine: s.slice(0, i), path: s.slice(i + 1) } : undefined;
  };
  const from = remote(src);
  const to = from ? undefined : remote(dst);
  if (!from && !to) throw E.config("cp", "one of SRC or DST must use machine:path syntax (e.g., myvm:/workspace/file)");
  const hasMeta = one(p, "mode") !== undefined || one(p, "uid") !== undefined || one(p, "gid") !== undefined;
  if (from) {
    if (hasMeta) throw E.config("cp", "--mode/--uid/--gid apply to uploads only (host -> machine)");
    const m = await requireRunning(ctx, from.machine);
    await mustDocker(ctx, ["cp", `${m.container}:${from.path}`, dst]);
    return 0;
  }
  const m = await requireRunning(ctx, to!.machine);
  const modeText = one(p, "mode");
  const mode = modeText === undefined ? 0o644 : parseInt(modeText.replace(/^0o/, ""), 8);
  if (!Number.isInteger(mode) || mode > 0o7777) throw E.config("cp", `invalid octal mode '${modeText}' (expected e.g. 644)`);
  let content: Buffer;
  try {
    content = await readFile(src);
  } catch (error) {
    throw new SmolvmError(`agent operation failed: read local file: ${src}: ${(error as Error).message}`);
  }
  const guestPath = to!.path;
  const uid = Number(one(p, "uid") ?? 0);
  const gid = Number(one(p, "gid") ?? 0);
  const tar = singleFileTar(path.posix.basename(guestPath), content, mode, uid, gid);
  await mustDocker(ctx, ["cp", "-", `${m.container}:${path.posix.dirname(guestPath)}`], tar);
  // docker cp makes root the owner; smolvm applies --uid/--gid (default root) and --mode as it writes
  await mustDocker(ctx, ["exec", "--user", "0", m.container, "sh", "-c", 'chown "$1:$2" "$4" && chmod "$3" "$4"', "sh", String(uid), String(gid), mode.toString(8), guestPath]);
  return 0;
}

/** Runs one stand-in invocation; returns the exit code. Records argv when SMOLVM_STANDIN_ARGV_LOG is set. */
export async function runSmolvmStandin(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io?: { out: (text: string) => void; err: (text: string) => void },
): Promise<number> {
  const ctx: Ctx = {
    stateDir: env.SMOLVM_STANDIN_STATE ?? path.join(process.cwd(), ".smolvm-standin"),
    runId: env.SMOLVM_STANDIN_RUN ?? "default",
    docker: env.SMOLVM_STANDIN_DOCKER ?? "docker",
    simulate: env.SMOLVM_STANDIN_SIMULATE,
    fenceImage: env.SMOLVM_STANDIN_FENCE_IMAGE,
    passthrough: io === undefined,
    out: io?.out ?? ((t) => process.stdout.write(t)),
    err: io?.err ?? ((t) => process.stderr.write(t)),
  };
  if (env.SMOLVM_STANDIN_ARGV_LOG) await appendFile(env.SMOLVM_STANDIN_ARGV_LOG, `${JSON.stringify(argv)}\n`);
  try {
    const [top, sub, ...rest] = argv;
    if (top === "--version" || top === "-V") {
      ctx.out(`${STANDIN_VERSION_LINE}\n`);
      ctx.err("note: this is smolvm-standin (docker-backed test stand-in), not smolvm\n");
      return 0;
    }
    if (top !== "machine") throw new UsageError(`unrecognized subcommand '${top ?? ""}' (the stand-in implements: machine, --version)`);
    switch (sub) {
      case "create":
        return await create(ctx, parseArgs(rest, SPECS.create, { maxPositionals: 0 }));
      case "start":
        return await start(ctx, parseArgs(rest, SPECS.named, { maxPositionals: 0 }));
      case "stop":
        return await stop(ctx, parseArgs(rest, SPECS.named, { maxPositionals: 0 }));
      case "delete":
      case "rm":
        return await remove(ctx, parseArgs(rest, SPECS.delete, { maxPositionals: 0 }));
      case "ls":
      case "list":
        return await ls(ctx, parseArgs(rest, SPECS.ls, { maxPositionals: 0 }));
      case "status":
        return await status(ctx, parseArgs(rest, SPECS.status, { maxPositionals: 0 }));
      case "exec":
        return await exec(ctx, parseArgs(rest, SPECS.exec, { trailingAfterFirstPositional: true }));
      case "cp":
        return await cp(ctx, parseArgs(rest, SPECS.cp, { maxPositionals: 2 }));
      default:
        throw new UsageError(`unrecognized subcommand '${sub ?? ""}' (the stand-in implements: create start stop delete ls status exec cp)`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      ctx.err(`error: ${error.message}\n`);
      return 2;
    }
    if (error instanceof SmolvmError) {
      ctx.err(`Error: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
