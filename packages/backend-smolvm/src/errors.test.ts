import { BottleError } from "@bottle/errors";
import { describe, expect, it } from "vitest";
import { mapSmolvmError } from "./errors.js";

// Exact stderr of smolvm v1.9.3: main.rs prints `Error: {e}`; the texts come from
// src/data/errors.rs (#[error] attributes), src/platform/linux.rs, src/cli/vm_common.rs
// and src/agent/manager.rs.
const STDERR = {
  kvm: "Error: kvm not available: KVM not available. Ensure KVM kernel module is loaded.\nTry: sudo modprobe kvm && sudo modprobe kvm_intel  # (or kvm_amd)\n",
  kvmPermission: "Error: kvm permission denied: Cannot access /dev/kvm (permission denied).\nAdd your user to the 'kvm' group:\n",
  notRunning: "Error: agent operation failed: connect: machine 'bottle-x-agent' is not running. Use 'smolvm machine start --name bottle-x-agent' first.\n",
  notReady: "Error: agent operation failed: wait for ready: agent did not become ready within 30 seconds\n",
  vmNotFound: "Error: vm not found: bottle-x-bundle\n",
  statusNotFound: "Error: config operation failed: machine status: machine 'bottle-x-bundle' not found\n",
  exists: "Error: config operation failed: create machine: machine 'bottle-x-bundle' already exists or is being created\n",
};

const map = (stderr: string) => mapSmolvmError({ argv: ["machine", "start", "--name", "bottle-x-bundle"], exitCode: 1, stderr });

describe("mapSmolvmError", () => {
  it.each([
    ["kvm", "SMOLVM_KVM_UNAVAILABLE", /modprobe/],
    ["kvmPermission", "SMOLVM_KVM_PERMISSION", /kvm group/],
    ["notRunning", "SMOLVM_NOT_RUNNING", /bottle stop/],
    ["notReady", "SMOLVM_AGENT_NOT_READY", /memory/],
    ["vmNotFound", "SMOLVM_MACHINE_NOT_FOUND", /cleanup/],
    ["statusNotFound", "SMOLVM_MACHINE_NOT_FOUND", /cleanup/],
    ["exists", "SMOLVM_MACHINE_EXISTS", /cleanup/],
  ] as const)("%s → %s with a hint", (key, code, hint) => {
    const error = map(STDERR[key]);
    expect(BottleError.isInstance(error)).toBe(true);
    expect(error.code).toBe(code);
    expect(error.hint).toMatch(hint);
  });

  it("names the machine from smolvm's message", () => {
    expect(map(STDERR.notRunning).message).toBe("smolvm machine bottle-x-agent is not running");
    expect(map(STDERR.vmNotFound).message).toBe("smolvm has no machine named bottle-x-bundle");
    expect(map(STDERR.notReady).message).toMatch(/within 30 seconds/);
  });

  it("anything else keeps smolvm's last line and the command to rerun", () => {
    const error = map("Error: storage operation failed: mkfs: no space left on device\n");
    expect(error.code).toBe("SMOLVM_COMMAND_FAILED");
    expect(error.message).toBe("smolvm machine start failed: Error: storage operation failed: mkfs: no space left on device");
    expect(error.hint).toContain("smolvm machine start --name bottle-x-bundle");
  });
});
