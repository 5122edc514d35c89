/**
 * Pure builders of smolvm argument lists (without the binary). Flag names and shapes are
 * those of smolvm 1.9.3 (PINNED_SMOLVM); see README "CLI surface used".
 */

export interface MachineCreateOptions {
  name: string;
  /** `docker save` archive path, rootfs directory, or registry reference. */
  image: string;
  labels?: Record<string, string>;
  cpus?: number;
  memoryMib?: number;
  /** Named inter-VM network (`--network`, implies --net, virtio-net). */
  network?: string;
  /** Egress allow-list (`--allow-cidr`, repeatable). */
  allowCidrs?: string[];
  /** Custom DNS upstream for the gateway (`--dns`). */
  dns?: string;
  env?: Record<string, string>;
  workdir?: string;
  /** Host folders shared into the guest (`-v HOST:GUEST[:ro]`). */
  volumes?: { host: string; guest: string; readOnly?: boolean }[];
  /** The machine's persistent workload (after `--`). */
  command?: string[];
}

export function machineCreateArgs(o: MachineCreateOptions): string[] {
  const args = ["machine", "create", "--name", o.name];
  for (const [key, value] of Object.entries(o.labels ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    args.push("--label", `${key}=${value}`);
  }
  args.push("--image", o.image);
  if (o.cpus !== undefined) args.push("--cpus", String(cpuCount(o.cpus)));
  if (o.memoryMib !== undefined) args.push("--mem", String(o.memoryMib));
  if (o.network) args.push("--network", o.network);
  for (const cidr of o.allowCidrs ?? []) args.push("--allow-cidr", cidr);
  if (o.dns) args.push("--dns", o.dns);
  for (const [key, value] of Object.entries(o.env ?? {})) args.push("--env", `${key}=${value}`);
  if (o.workdir) args.push("--workdir", o.workdir);
  for (const v of o.volumes ?? []) args.push("--volume", `${v.host}:${v.guest}${v.readOnly ? ":ro" : ""}`);
  if (o.command && o.command.length > 0) args.push("--", ...o.command);
  return args;
}

export function machineStartArgs(name: string): string[] {
  return ["machine", "start", "--name", name];
}

export function machineStopArgs(name: string): string[] {
  return ["machine", "stop", "--name", name];
}

/** `--force` skips the confirmation prompt; delete also stops a running machine. */
export function machineDeleteArgs(name: string): string[] {
  return ["machine", "delete", "--name", name, "--force"];
}

export function machineListArgs(): string[] {
  return ["machine", "ls", "--json"];
}

export function machineStatusArgs(name: string): string[] {
  return ["machine", "status", "--name", name, "--json"];
}

export interface MachineExecOptions {
  env?: Record<string, string>;
  workdir?: string;
  interactive?: boolean;
  tty?: boolean;
  /** Seconds; smolvm kills the command after it (`--timeout 30s`). */
  timeoutSeconds?: number;
}

export function machineExecArgs(name: string, command: string[], o: MachineExecOptions = {}): string[] {
  if (command.length === 0) throw new Error("machineExecArgs: empty command");
  const args = ["machine", "exec", "--name", name];
  for (const [key, value] of Object.entries(o.env ?? {})) args.push("--env", `${key}=${value}`);
  if (o.workdir) args.push("--workdir", o.workdir);
  if (o.interactive) args.push("--interactive");
  if (o.tty) args.push("--tty");
  if (o.timeoutSeconds !== undefined) args.push("--timeout", `${Math.max(1, Math.ceil(o.timeoutSeconds))}s`);
  args.push("--", ...command);
  return args;
}

export interface MachineCopyOptions {
  /** Octal mode applied on upload, e.g. 0o600. */
  mode?: number;
  uid?: number;
  gid?: number;
}

/** Upload one host file to `<machine>:<guestPath>` (smolvm copies single files only). */
export function machineCopyInArgs(hostPath: string, machine: string, guestPath: string, o: MachineCopyOptions = {}): string[] {
  if (!guestPath.startsWith("/")) throw new Error(`machineCopyInArgs: guest path must be absolute, got ${guestPath}`);
  const args = ["machine", "cp"];
  if (o.mode !== undefined) args.push("--mode", o.mode.toString(8).padStart(4, "0"));
  if (o.uid !== undefined) args.push("--uid", String(o.uid));
  if (o.gid !== undefined) args.push("--gid", String(o.gid));
  args.push(hostPath, `${machine}:${guestPath}`);
  return args;
}

/** Download `<machine>:<guestPath>` to a host file. */
export function machineCopyOutArgs(machine: string, guestPath: string, hostPath: string): string[] {
  return ["machine", "cp", `${machine}:${guestPath}`, hostPath];
}

export function versionArgs(): string[] {
  return ["--version"];
}

/** smolvm's `--cpus` is a u8; the manifest allows fractions (docker semantics). */
export function cpuCount(cpus: number): number {
  return Math.min(255, Math.max(1, Math.ceil(cpus)));
}

/** `4g`, `512m`, `1.5g`, `1048576` (bytes) → MiB for `--mem`. */
export function memoryToMib(memory: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmgKMG]?)$/.exec(memory.trim());
  if (!m) throw new Error(`memory "${memory}" is not a size like 4g or 512m`);
  const n = Number(m[1]);
  const unit = (m[2] ?? "").toLowerCase();
  const bytes = unit === "g" ? n * 1024 ** 3 : unit === "m" ? n * 1024 ** 2 : unit === "k" ? n * 1024 : n;
  return Math.max(1, Math.ceil(bytes / 1024 ** 2));
}
