import { describe, expect, it } from "vitest";
import { parseGuestAddress, parseMachineList, parseMachineStatus } from "./parse.js";

// Shape of vm_common::machine_status_json in smolvm v1.9.3 (shared by `ls --json` and `status --json`).
const MACHINE = {
  name: "bottle-dev-1234abcd-bundle",
  state: "running",
  cpus: 1,
  memory_mib: 1024,
  pid: 4242,
  mounts: 1,
  ports: 0,
  created_at: 1795800000,
  storage_gb: null,
  overlay_gb: null,
  image: "/home/me/.cache/bottle/smolvm-images/0123456789abcdef.tar",
  entrypoint: [],
  cmd: ["sh", "-c", "..."],
  ephemeral: false,
  gpu: false,
  gpu_vram_mib: null,
  cuda: false,
  forkable: false,
  cuda_fork_pool_size: null,
  cuda_vram_limit_mib: null,
  forkpoint_held: false,
  labels: { "dev.bottle.managed": "true", "dev.bottle.slug": "dev-1234abcd", "dev.bottle.role": "bundle" },
  restart_policy: "never",
  restart_max_retries: 0,
  restart_count: 0,
  health_cmd: null,
  health_interval_secs: null,
  health_timeout_secs: null,
  health_retries: null,
  health_startup_grace_secs: null,
  network: true,
};

describe("smolvm JSON", () => {
  it("reads ls --json (pretty-printed array) and the empty list", () => {
    const list = parseMachineList(JSON.stringify([MACHINE], null, 2));
    expect(list).toEqual([
      {
        name: "bottle-dev-1234abcd-bundle",
        state: "running",
        cpus: 1,
        memoryMib: 1024,
        pid: 4242,
        image: MACHINE.image,
        labels: MACHINE.labels,
        network: true,
      },
    ]);
    expect(parseMachineList("[]\n")).toEqual([]);
  });

  it("reads status --json; rejects what is not smolvm's shape", () => {
    expect(parseMachineStatus(JSON.stringify({ ...MACHINE, state: "stopped", pid: null })).state).toBe("stopped");
    expect(() => parseMachineList("No machines found\n")).toThrow(/as JSON/);
    expect(() => parseMachineList("{}")).toThrow(/array/);
    expect(() => parseMachineStatus('{"state":"running"}')).toThrow(/unexpected/);
  });
});

describe("parseGuestAddress", () => {
  const fib = (ip: string) => `Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
     +-- ${ip.split(".").slice(0, 3).join(".")}.0/30 2 0 2
        |-- ${ip}
           /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
        |-- ${ip}
           /32 host LOCAL
`;
  it("finds the guest's own address and skips loopback", () => {
    expect(parseGuestAddress(fib("100.96.1.2"))).toBe("100.96.1.2");
    expect(parseGuestAddress(fib("172.18.0.2"))).toBe("172.18.0.2");
  });
  it("prefers smolvm's named-network lease", () => {
    expect(parseGuestAddress(`${fib("10.0.2.15")}${fib("100.96.7.2")}`)).toBe("100.96.7.2");
  });
  it("returns undefined when there is only loopback", () => {
    expect(parseGuestAddress("Main:\n |-- 127.0.0.1\n    /32 host LOCAL\n")).toBeUndefined();
  });
});
