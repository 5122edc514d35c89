import { constants } from "node:fs";
import { access, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fingerprintSha256 } from "@bottle/ca";
import { BottleError } from "@bottle/errors";
import { AGENT_USER, LABELS, renderClaudeCodeState, type BottlePlan } from "@bottle/plan";
import {
  machineCopyInArgs,
  machineCreateArgs,
  machineDeleteArgs,
  machineExecArgs,
  machineListArgs,
  machineStartArgs,
  machineStatusArgs,
  machineStopArgs,
  memoryToMib,
  versionArgs,
  type MachineExecOptions,
} from "./args.js";
import { SmolvmCli, type RunResult, type SmolvmCliOptions } from "./cli.js";
import { mapSmolvmError } from "./errors.js";
import { imageArchive } from "./images.js";
import { parseGuestAddress, parseMachineList, parseMachineStatus, type SmolvmMachine } from "./parse.js";
import { AGENT_DNS_SINK, BUNDLE_LOG_FILE, GUEST_STAGING_DIR, PINNED_SMOLVM, READY_MARKER, SMOLVM_LABELS } from "./pinned.js";
import {
  AGENT_GITCONFIG_PATH,
  addressCommand,
  agentFilesScript,
  agentWorkload,
  asAgentUser,
  bundleUnpackScript,
  bundleWorkload,
  caTrustCommand,
  mcpAddCommand,
  claudeStatePath,
  readinessCommand,
  renderAgentGitconfig,
  shellQuote,
  stagingPath,
  unpackScript,
  type BundleFile,
} from "./provision.js";
import { createTar, folderEntries, type TarEntry } from "./tar.js";

export interface SmolvmLaunchInput {
  /**
   * The plan for a bundle address. Called first without one (machine names, images,
   * labels), then with the bundle machine's IP once it is known, e.g.
   * `(addr) => resolvePlan(manifest, name, { manifestPath, backend: "smolvm", bundleAddress: addr })`.
   */
  planFor: (bundleAddress?: string) => BottlePlan;
  /**
   * `<state>` as @bottle/state lays it out (docs/bundle-contract.md). When given, the
   * defaults below come from it: bundleFiles from `config/` + `secrets/`, caCertPem from
   * `config/ca/ca.crt`, bundleStateDir = `bundle/`.
   */
  stateDir?: string;
  /** Everything the bundle reads, at guest paths (see bundleFilesFromState). */
  bundleFiles?: BundleFile[];
  /** The bottle CA certificate (PEM) the agent trusts. */
  caCertPem?: string;
  /** Host folder mounted read-write at plan.bundle.paths.state (`<state>/bundle`): supervise requests, audit, mirrors. */
  bundleStateDir?: string;
  /** Archive paths (or references) handed to smolvm as-is; default: derived `docker save` archives of the plan's images. */
  images?: { bundle?: string; agent?: string };
  imageCacheDir?: string;
  bundleResources?: { cpus: number; memoryMib: number };
  /** Wait until `bottle-supervisor health` passes in the bundle (default true). */
  waitBundleHealthy?: boolean;
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface SmolvmLaunchResult {
  plan: BottlePlan;
  bundleAddress: string;
  machines: BottlePlan["machines"];
  caFingerprint: string;
  /** Non-fatal problems (e.g. MCP registration), also logged. */
  warnings: string[];
}

export interface BottleListing {
  slug: string;
  bottle: string;
  backend: "smolvm";
  machines: { name: string; role: string; state: string }[];
}

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DoctorReport {
  backend: "smolvm";
  ok: boolean;
  checks: DoctorCheck[];
}

/** A plan, or just the bottle's slug (machine names are `bottle-<slug>-bundle|agent`). */
export type BottleRef = Pick<BottlePlan, "machines"> | string;

function machinesOf(target: BottleRef): BottlePlan["machines"] {
  return typeof target === "string" ? { bundle: `bottle-${target}-bundle`, agent: `bottle-${target}-agent` } : target.machines;
}

function agentOf(target: BottlePlan | string): { machine: string; user: string; home: string; workdir?: string } {
  if (typeof target === "string") return { machine: machinesOf(target).agent, user: AGENT_USER.name, home: AGENT_USER.home };
  return { machine: target.machines.agent, user: target.agent.user, home: target.agent.home, workdir: target.agent.workdir };
}

/** `<state>/config`, `<state>/secrets` → the bundle files (contract layout). */
export function stateBundleLayout(stateDir: string): { config: string; secrets: string; bundle: string; caCert: string } {
  return {
    config: path.join(stateDir, "config"),
    secrets: path.join(stateDir, "secrets"),
    bundle: path.join(stateDir, "bundle"),
    caCert: path.join(stateDir, "config", "ca", "ca.crt"),
  };
}

export interface SmolvmBackend {
  readonly name: "smolvm";
  launch(input: SmolvmLaunchInput): Promise<SmolvmLaunchResult>;
  stop(target: BottleRef, options?: { logsDir?: string }): Promise<void>;
  list(): Promise<BottleListing[]>;
  logs(target: BottleRef): Promise<string>;
  exec(target: BottlePlan | string, command: string[], options?: MachineExecOptions): Promise<RunResult>;
  attach(target: BottlePlan | string, command?: string[]): Promise<number>;
  /** Sends changed bundle files (or every file of `<state>/config` + `secrets`) and signals reloadable daemons. */
  reload(plan: BottlePlan, files: BundleFile[] | { stateDir: string }): Promise<string[]>;
  cleanup(options?: { slug?: string; keep?: (slug: string) => boolean }): Promise<string[]>;
  doctor(): Promise<DoctorReport>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads the rendered state dir (`<state>/config`, `<state>/secrets`) into BundleFiles at the contract's guest paths. */
export async function bundleFilesFromState(layout: { config: string; secrets: string }, plan: BottlePlan): Promise<BundleFile[]> {
  const files: BundleFile[] = [];
  for (const [hostDir, guestDir] of [
    [layout.config, plan.bundle.paths.config],
    [layout.secrets, plan.bundle.paths.secrets],
  ] as const) {
    for (const entry of await folderEntries(hostDir, guestDir)) {
      if (entry.type === "file" && !/\.tmp$/.test(entry.path)) files.push({ path: entry.path, content: entry.content, mode: entry.mode });
    }
  }
  return files;
}

function bundleFileEntries(files: BundleFile[], suffix = ""): TarEntry[] {
  return files.map((f) => {
    if (!path.posix.isAbsolute(f.path)) throw new BottleError(`bundle file path must be absolute: ${f.path}`, { code: "SMOLVM_BAD_BUNDLE_FILE" });
    return { type: "file", path: `${f.path}${suffix}`, content: f.content, mode: f.mode };
  });
}

export function createSmolvmBackend(options: SmolvmCliOptions = {}): SmolvmBackend {
  // Resolved per call so BOTTLE_SMOLVM_BIN set after import still counts.
  const cli = () => new SmolvmCli(options);

  async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(path.join(os.tmpdir(), "bottle-smolvm-"));
    try {
      return await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async function execIn(machine: string, command: string[], o: MachineExecOptions = {}): Promise<RunResult> {
    return cli().run(machineExecArgs(machine, command, o));
  }

  /** Sends an archive with `machine cp` (single files only) and unpacks it in the guest with `script`. */
  async function sendArchive(machine: string, name: string, entries: TarEntry[], script: (archive: string) => string[]): Promise<void> {
    await withTempDir(async (dir) => {
      const host = path.join(dir, name);
      await writeFile(host, createTar(entries), { mode: 0o600 });
      const guest = stagingPath(name);
      await cli().run(machineCopyInArgs(host, machine, guest, { mode: 0o600, uid: 0, gid: 0 }));
      await execIn(machine, script(guest));
    });
  }

  async function waitReady(machine: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: RunResult | undefined;
    const argv = machineExecArgs(machine, readinessCommand());
    for (;;) {
      last = await cli().try(argv);
      if (last.exitCode === 0 && last.stdout.trim() === READY_MARKER) return;
      const mapped = mapSmolvmError({ argv, exitCode: last.exitCode, stderr: last.stderr });
      if (["SMOLVM_KVM_UNAVAILABLE", "SMOLVM_KVM_PERMISSION", "SMOLVM_NO_HYPERVISOR", "SMOLVM_MACHINE_NOT_FOUND", "SMOLVM_AGENT_NOT_READY"].includes(mapped.code)) {
        throw mapped;
      }
      if (Date.now() > deadline) {
        throw new BottleError(`smolvm machine ${machine} did not answer \`machine exec\` within ${Math.round(timeoutMs / 1000)} s`, {
          code: "SMOLVM_NOT_READY",
          hint: `last answer: ${(last.stderr || last.stdout).trim().split("\n").pop() ?? "none"}; check \`smolvm machine status --name ${machine}\``,
          details: { exitCode: last.exitCode, stderr: last.stderr, stdout: last.stdout },
        });
      }
      await sleep(250);
    }
  }

  /** status --json → stop if it runs → delete --force. A machine that is already gone is fine. */
  async function removeMachine(name: string): Promise<void> {
    const c = cli();
    const status = await c.try(machineStatusArgs(name));
    if (status.exitCode !== 0) {
      const error = mapSmolvmError({ argv: machineStatusArgs(name), exitCode: status.exitCode, stderr: status.stderr });
      if (error.code === "SMOLVM_MACHINE_NOT_FOUND") return;
      throw error;
    }
    const { state } = parseMachineStatus(status.stdout);
    if (state === "running" || state === "unreachable") await c.run(machineStopArgs(name));
    const del = await c.try(machineDeleteArgs(name));
    if (del.exitCode !== 0) {
      const error = mapSmolvmError({ argv: machineDeleteArgs(name), exitCode: del.exitCode, stderr: del.stderr });
      if (error.code !== "SMOLVM_MACHINE_NOT_FOUND") throw error;
    }
  }

  async function listMachines(): Promise<SmolvmMachine[]> {
    return parseMachineList((await cli().run(machineListArgs())).stdout);
  }

  const backend: SmolvmBackend = {
    name: "smolvm",

    async launch(input) {
      const log = input.log ?? (() => {});
      const warnings: string[] = [];
      const readyTimeoutMs = input.readyTimeoutMs ?? 120_000;
      const first = input.planFor(undefined);
      const fromState = input.stateDir ? stateBundleLayout(input.stateDir) : undefined;
      const bundleFiles = input.bundleFiles ?? (fromState ? await bundleFilesFromState(fromState, first) : undefined);
      const caCertPem = input.caCertPem ?? (fromState ? await readFile(fromState.caCert, "utf8").catch(() => undefined) : undefined);
      const bundleStateDir = input.bundleStateDir ?? fromState?.bundle;
      if (!bundleFiles || !caCertPem) {
        throw new BottleError("smolvm launch needs the bundle files and the bottle CA", {
          code: "SMOLVM_LAUNCH_INPUT",
          hint: "pass stateDir (rendered by @bottle/state), or bundleFiles and caCertPem",
        });
      }
      if (first.backend !== "smolvm") {
        throw new BottleError(`the plan is for the ${first.backend} backend`, { code: "SMOLVM_WRONG_PLAN", hint: "resolve the plan with backend: \"smolvm\"" });
      }
      await cli().run(versionArgs());
      const bundleImage = input.images?.bundle ?? (await imageArchive(first.bundle.image, { log, ...(input.imageCacheDir ? { cacheDir: input.imageCacheDir } : {}) }));
      const agentImage = input.images?.agent ?? (await imageArchive(first.agent.image, { log, ...(input.imageCacheDir ? { cacheDir: input.imageCacheDir } : {}) }));
      const { bundle, agent } = first.machines;
      const created: string[] = [];
      try {
        // bundle machine: joins the bottle's network with ordinary outbound access (its routes need it)
        const res = input.bundleResources ?? { cpus: 1, memoryMib: 1024 };
        await cli().run(
          machineCreateArgs({
            name: bundle,
            image: bundleImage,
            labels: { ...first.labels, [SMOLVM_LABELS.role]: "bundle" },
            cpus: res.cpus,
            memoryMib: res.memoryMib,
            network: first.networks.internal,
            ...(bundleStateDir ? { volumes: [{ host: bundleStateDir, guest: first.bundle.paths.state }] } : {}),
            command: bundleWorkload(first),
          }),
        );
        created.push(bundle);
        await cli().run(machineStartArgs(bundle));
        await waitReady(bundle, readyTimeoutMs);
        const fib = await execIn(bundle, addressCommand());
        const bundleAddress = parseGuestAddress(fib.stdout);
        if (!bundleAddress) {
          throw new BottleError(`could not find the address of smolvm machine ${bundle}`, {
            code: "SMOLVM_NO_ADDRESS",
            hint: "the bundle joined no network; check that smolvm supports --network (virtio-net)",
            details: { fibTrie: fib.stdout.slice(0, 2000) },
          });
        }
        log(`smolvm: bundle ${bundle} is at ${bundleAddress}`);
        await execIn(bundle, ["mkdir", "-p", "-m", "0700", GUEST_STAGING_DIR]);
        await sendArchive(bundle, "bundle-files.tar", bundleFileEntries(bundleFiles), (archive) => bundleUnpackScript(archive, bundleFiles));
        log(`smolvm: copied ${bundleFiles.length} bundle files`);
        if (input.waitBundleHealthy ?? true) {
          const deadline = Date.now() + readyTimeoutMs;
          for (;;) {
            const h = await cli().try(machineExecArgs(bundle, ["bottle-supervisor", "health"]));
            if (h.exitCode === 0) break;
            if (Date.now() > deadline) {
              throw new BottleError(`the sidecar bundle did not become healthy within ${Math.round(readyTimeoutMs / 1000)} s`, {
                code: "SMOLVM_BUNDLE_UNHEALTHY",
                hint: `see \`smolvm machine exec --name ${bundle} -- cat ${BUNDLE_LOG_FILE}\``,
                details: { stdout: h.stdout, stderr: h.stderr },
              });
            }
            await sleep(500);
          }
        }

        const plan = input.planFor(bundleAddress);
        if (plan.machines.agent !== agent || plan.machines.bundle !== bundle) {
          throw new BottleError("planFor returned a plan for another bottle", { code: "SMOLVM_WRONG_PLAN" });
        }
        const ws = plan.agent.workspace;
        await cli().run(
          machineCreateArgs({
            name: agent,
            image: agentImage,
            labels: { ...plan.labels, [SMOLVM_LABELS.role]: "agent" },
            ...(plan.agent.cpus !== undefined ? { cpus: plan.agent.cpus } : {}),
            ...(plan.agent.memory !== undefined ? { memoryMib: memoryToMib(plan.agent.memory) } : {}),
            network: plan.networks.internal,
            allowCidrs: [`${bundleAddress}/32`],
            dns: AGENT_DNS_SINK,
            env: plan.agent.env,
            workdir: plan.agent.workdir,
            ...(ws?.mode === "mount" ? { volumes: [{ host: ws.hostPath, guest: ws.guestPath }] } : {}),
            command: agentWorkload(),
          }),
        );
        created.push(agent);
        await cli().run(machineStartArgs(agent));
        await waitReady(agent, readyTimeoutMs);
        const caFingerprint = await provisionAgent(plan, caCertPem, log, warnings);
        return { plan, bundleAddress, machines: plan.machines, caFingerprint, warnings };
      } catch (error) {
        for (const name of created.reverse()) await removeMachine(name).catch(() => {});
        throw error;
      }
    },

    async stop(target, options = {}) {
      if (options.logsDir) {
        const text = await backend.logs(target).catch((error: unknown) => `could not read the bundle log: ${(error as Error).message}\n`);
        await writeFile(path.join(options.logsDir, "bundle.log"), text, { mode: 0o600 });
      }
      await removeMachine(machinesOf(target).agent);
      await removeMachine(machinesOf(target).bundle);
    },

    async list() {
      const bySlug = new Map<string, BottleListing>();
      for (const m of await listMachines()) {
        if (m.labels[LABELS.managed] !== "true") continue;
        const slug = m.labels[LABELS.slug] ?? "unknown";
        const entry = bySlug.get(slug) ?? { slug, bottle: m.labels[LABELS.bottle] ?? "unknown", backend: "smolvm" as const, machines: [] };
        entry.machines.push({ name: m.name, role: m.labels[SMOLVM_LABELS.role] ?? "unknown", state: m.state });
        bySlug.set(slug, entry);
      }
      return [...bySlug.values()].sort((a, b) => a.slug.localeCompare(b.slug));
    },

    async logs(target) {
      return (await execIn(machinesOf(target).bundle, ["sh", "-c", `cat ${BUNDLE_LOG_FILE} 2>/dev/null || true`])).stdout;
    },

    async exec(target, command, o = {}) {
      const a = agentOf(target);
      return cli().try(machineExecArgs(a.machine, asAgentUser(a, command), o));
    },

    async attach(target, command) {
      const a = agentOf(target);
      const argv = machineExecArgs(a.machine, asAgentUser(a, command ?? (typeof target === "string" ? ["bash", "-l"] : target.agent.command)), {
        interactive: true,
        tty: process.stdin.isTTY === true,
        ...(a.workdir ? { workdir: a.workdir } : {}),
      });
      return cli().attach(argv);
    },

    async reload(plan, filesOrState) {
      const files = Array.isArray(filesOrState) ? filesOrState : await bundleFilesFromState(stateBundleLayout(filesOrState.stateDir), plan);
      // written beside their targets as .bottle-new, then renamed: the daemons never read half a file
      const renames = files.map((f) => `mv -f ${shellQuote(`${f.path}.bottle-new`)} ${shellQuote(f.path)}`);
      const chmods = files.map((f) => `chmod ${f.mode.toString(8).padStart(4, "0")} ${shellQuote(`${f.path}.bottle-new`)}`);
      await sendArchive(plan.machines.bundle, "reload.tar", bundleFileEntries(files, ".bottle-new"), (archive) => unpackScript(archive, [...chmods, ...renames]));
      const signalled: string[] = [];
      for (const daemon of plan.bundle.daemons.filter((d) => d.reloadable)) {
        await execIn(plan.machines.bundle, ["bottle-supervisor", "signal", daemon.name, "HUP", "--port", String(plan.bundle.ports.health)]);
        signalled.push(daemon.name);
      }
      return signalled;
    },

    async cleanup(o = {}) {
      const removed: string[] = [];
      for (const m of await listMachines()) {
        if (m.labels[LABELS.managed] !== "true") continue;
        const slug = m.labels[LABELS.slug] ?? "";
        if (o.slug !== undefined && slug !== o.slug) continue;
        if (o.keep?.(slug)) continue;
        await removeMachine(m.name);
        removed.push(m.name);
      }
      return removed;
    },

    async doctor() {
      const checks: DoctorCheck[] = [];
      const c = cli();
      try {
        const r = await c.try(versionArgs());
        const version = /(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1];
        if (r.exitCode !== 0 || !version) checks.push({ name: "smolvm", ok: false, detail: `${c.bin} --version failed: ${(r.stderr || r.stdout).trim()}` });
        else
          checks.push({
            name: "smolvm",
            ok: true,
            detail: `${c.bin}: ${r.stdout.trim().split("\n")[0]}${version === PINNED_SMOLVM.version ? "" : ` (bottle is tested with ${PINNED_SMOLVM.version})`}`,
          });
      } catch (error) {
        checks.push({ name: "smolvm", ok: false, detail: BottleError.isInstance(error) ? `${error.message}; ${error.hint ?? ""}` : String(error) });
      }
      if (process.platform === "darwin") checks.push({ name: "hypervisor", ok: true, detail: "Hypervisor.framework (macOS)" });
      else {
        try {
          await access("/dev/kvm", constants.R_OK | constants.W_OK);
          checks.push({ name: "/dev/kvm", ok: true, detail: "present, readable and writable" });
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          checks.push({
            name: "/dev/kvm",
            ok: false,
            detail: code === "ENOENT" ? "missing: load the kvm module (modprobe kvm_intel or kvm_amd)" : `not accessible (${code}): add yourself to the kvm group`,
          });
        }
      }
      return { backend: "smolvm", ok: checks.every((x) => x.ok), checks };
    },
  };

  async function provisionAgent(plan: BottlePlan, caCertPem: string, log: (line: string) => void, warnings: string[]): Promise<string> {
    const agent = plan.machines.agent;
    await execIn(agent, ["mkdir", "-p", "-m", "0700", GUEST_STAGING_DIR]);

    // CA into the trust store
    const fingerprint = fingerprintSha256(caCertPem);
    await withTempDir(async (dir) => {
      const file = path.join(dir, "bottle-ca.crt");
      await writeFile(file, caCertPem, { mode: 0o644 });
      await cli().run(machineCopyInArgs(file, agent, plan.agent.caPath, { mode: 0o644, uid: 0, gid: 0 }));
    });
    await execIn(agent, caTrustCommand(plan));
    log(`smolvm: agent trusts the bottle CA (sha256 fingerprint ${fingerprint})`);

    // gitconfig, prompt, skills, workspace copy: one archive
    const entries: TarEntry[] = [];
    if (plan.git.upstreams.length > 0) entries.push({ type: "file", path: AGENT_GITCONFIG_PATH, content: renderAgentGitconfig(plan), mode: 0o644 });
    if (plan.agent.prompt) {
      entries.push({ type: "file", path: plan.agent.prompt.guestPath, content: await readFile(plan.agent.prompt.hostPath), mode: 0o600 });
    }
    for (const skill of plan.agent.skills) entries.push(...(await folderEntries(skill.hostPath, skill.guestPath)));
    const ws = plan.agent.workspace;
    if (ws && ws.mode === "copy") {
      entries.push(...(await folderEntries(ws.hostPath, ws.guestPath, (rel) => (!ws.copyGit && (rel === ".git" || rel.startsWith(".git/"))) || (ws.exclude ?? []).some((x) => rel === x || rel.startsWith(`${x}/`)))));
    }
    // Claude Code's first-start state: onboarding done, workspace trusted, placeholder key approved.
    entries.push({ type: "file", path: claudeStatePath(plan), content: renderClaudeCodeState(plan), mode: 0o600 });
    if (entries.length > 0) {
      await sendArchive(agent, "agent-files.tar", entries, (archive) => agentFilesScript(plan, archive));
      log(`smolvm: copied ${entries.filter((e) => e.type === "file").length} files into the agent`);
    }
    if (plan.git.upstreams.length > 0) log(`smolvm: git upstreams go through ${plan.git.upstreams.map((u) => u.gateUrl).join(", ")}`);

    // MCP registration of supervise (non-fatal: the agent works without it)
    if (plan.supervise.enabled) {
      const argv = machineExecArgs(agent, mcpAddCommand(plan));
      const r = await cli().try(argv);
      if (r.exitCode === 0) log(`smolvm: registered MCP server supervise at ${plan.supervise.url}`);
      else {
        const reason = (r.stderr || r.stdout).trim().split("\n").pop() ?? `exit code ${r.exitCode}`;
        const line = `supervise MCP registration failed (non-fatal): ${reason}`;
        warnings.push(line);
        log(`smolvm: ${line}`);
      }
    }
    return fingerprint;
  }

  return backend;
}

/** The smolvm backend with the binary from BOTTLE_SMOLVM_BIN or `smolvm` on PATH. */
export const smolvmBackend: SmolvmBackend = createSmolvmBackend();
