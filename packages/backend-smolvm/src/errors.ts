import { BottleError } from "@bottle/errors";

/**
 * smolvm prints `Error: <Display of smolvm::Error>` on stderr and exits 1. These are
 * the Display strings of the pinned version (src/data/errors.rs, src/cli/vm_common.rs,
 * src/agent/manager.rs) that a user can act on.
 */
export const SMOLVM_ERROR_PATTERNS = {
  kvmUnavailable: /kvm not available: ([^\n]*)/,
  kvmPermission: /kvm permission denied: ([^\n]*)/,
  notRunning: /machine '([^']+)' is not running/,
  agentNotReady: /agent did not become ready within (\d+) seconds/,
  vmNotFound: /vm not found: (\S+)/,
  machineNotFound: /machine '([^']+)' not found/,
  alreadyExists: /machine '([^']+)' already exists/,
  hypervisor: /hypervisor not available: ([^\n]*)/,
} as const;

export interface SmolvmFailure {
  argv: string[];
  exitCode: number | undefined;
  stderr: string;
  stdout?: string;
}

/** Maps a failed smolvm invocation to a BottleError with a hint. Pure. */
export function mapSmolvmError(failure: SmolvmFailure): BottleError {
  const text = `${failure.stderr}\n${failure.stdout ?? ""}`;
  const command = `smolvm ${failure.argv.slice(0, 2).join(" ")}`.trim();
  const details = { argv: failure.argv, exitCode: failure.exitCode, stderr: failure.stderr.trim() };
  const p = SMOLVM_ERROR_PATTERNS;
  let m: RegExpExecArray | null;
  if ((m = p.kvmUnavailable.exec(text))) {
    return new BottleError(`smolvm cannot start a microVM: KVM is not available (${m[1]?.trim()})`, {
      code: "SMOLVM_KVM_UNAVAILABLE",
      hint: "load the KVM module (sudo modprobe kvm_intel or kvm_amd) and check that /dev/kvm exists; or use --backend docker",
      details,
    });
  }
  if ((m = p.kvmPermission.exec(text))) {
    return new BottleError("smolvm cannot open /dev/kvm (permission denied)", {
      code: "SMOLVM_KVM_PERMISSION",
      hint: "add yourself to the kvm group (sudo usermod -aG kvm $USER), then log out and back in",
      details,
    });
  }
  if ((m = p.hypervisor.exec(text))) {
    return new BottleError(`smolvm found no hypervisor: ${m[1]?.trim()}`, {
      code: "SMOLVM_NO_HYPERVISOR",
      hint: "smolvm needs KVM (Linux) or Hypervisor.framework (macOS); or use --backend docker",
      details,
    });
  }
  if ((m = p.agentNotReady.exec(text))) {
    return new BottleError(`the microVM booted but its smolvm agent did not become ready within ${m[1]} seconds (${command})`, {
      code: "SMOLVM_AGENT_NOT_READY",
      hint: "the host may be overloaded or the image too large for the machine's memory; retry, or raise agent.memory in bottle.json",
      details,
    });
  }
  if ((m = p.notRunning.exec(text))) {
    return new BottleError(`smolvm machine ${m[1]} is not running`, {
      code: "SMOLVM_NOT_RUNNING",
      hint: "the bottle was stopped or crashed; run `bottle stop` then `bottle start` again",
      details,
    });
  }
  if ((m = p.vmNotFound.exec(text)) || (m = p.machineNotFound.exec(text))) {
    return new BottleError(`smolvm has no machine named ${m[1]}`, {
      code: "SMOLVM_MACHINE_NOT_FOUND",
      hint: "the bottle is not running (see `bottle ps`); `bottle cleanup` removes leftovers",
      details,
    });
  }
  if ((m = p.alreadyExists.exec(text))) {
    return new BottleError(`a smolvm machine named ${m[1]} already exists`, {
      code: "SMOLVM_MACHINE_EXISTS",
      hint: "a previous run of this bottle is still there: `bottle stop` it, or `bottle cleanup`",
      details,
    });
  }
  const last = failure.stderr.trim().split("\n").filter(Boolean).pop() ?? `exit code ${failure.exitCode ?? "unknown"}`;
  return new BottleError(`${command} failed: ${last}`, {
    code: "SMOLVM_COMMAND_FAILED",
    hint: `run \`smolvm ${failure.argv.join(" ")}\` by hand to see the full output`,
    details,
  });
}

export function smolvmNotFoundError(bin: string, cause?: unknown): BottleError {
  return new BottleError(`the smolvm binary was not found (${bin})`, {
    code: "SMOLVM_NOT_FOUND",
    hint: "install smolvm 1.9.3 (https://github.com/smol-machines/smolvm) or set BOTTLE_SMOLVM_BIN to its path; or use --backend docker",
    cause,
  });
}
