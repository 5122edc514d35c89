import { describe, expect, it } from "vitest";
import {
  cpuCount,
  machineCopyInArgs,
  machineCopyOutArgs,
  machineCreateArgs,
  machineDeleteArgs,
  machineExecArgs,
  machineListArgs,
  machineStartArgs,
  machineStatusArgs,
  machineStopArgs,
  memoryToMib,
} from "./args.js";

// Flag spellings below are those of smolvm v1.9.3 src/cli/machine.rs (CreateCmd, ExecCmd, CpCmd, ...).
describe("argument builders (smolvm 1.9.3)", () => {
  it("machine create: name, sorted labels, image, resources, network policy, env, workdir, volumes, workload after --", () => {
    expect(
      machineCreateArgs({
        name: "bottle-dev-1234abcd-agent",
        image: "/cache/abc.tar",
        labels: { "dev.bottle.slug": "dev-1234abcd", "dev.bottle.managed": "true" },
        cpus: 1.5,
        memoryMib: 2048,
        network: "bottle-dev-1234abcd-internal",
        allowCidrs: ["100.96.1.2/32"],
        dns: "192.0.2.1",
        env: { HTTP_PROXY: "http://100.96.1.2:8080" },
        workdir: "/workspace",
        volumes: [{ host: "/home/me/proj", guest: "/workspace" }, { host: "/etc/x", guest: "/x", readOnly: true }],
        command: ["sleep", "infinity"],
      }),
    ).toEqual([
      "machine", "create", "--name", "bottle-dev-1234abcd-agent",
      "--label", "dev.bottle.managed=true",
      "--label", "dev.bottle.slug=dev-1234abcd",
      "--image", "/cache/abc.tar",
      "--cpus", "2",
      "--mem", "2048",
      "--network", "bottle-dev-1234abcd-internal",
      "--allow-cidr", "100.96.1.2/32",
      "--dns", "192.0.2.1",
      "--env", "HTTP_PROXY=http://100.96.1.2:8080",
      "--workdir", "/workspace",
      "--volume", "/home/me/proj:/workspace",
      "--volume", "/etc/x:/x:ro",
      "--", "sleep", "infinity",
    ]);
  });

  it("machine create without optional parts has no stray flags and no --", () => {
    expect(machineCreateArgs({ name: "m", image: "alpine" })).toEqual(["machine", "create", "--name", "m", "--image", "alpine"]);
  });

  it("lifecycle commands name the machine with --name; delete skips the prompt with --force", () => {
    expect(machineStartArgs("m")).toEqual(["machine", "start", "--name", "m"]);
    expect(machineStopArgs("m")).toEqual(["machine", "stop", "--name", "m"]);
    expect(machineDeleteArgs("m")).toEqual(["machine", "delete", "--name", "m", "--force"]);
    expect(machineListArgs()).toEqual(["machine", "ls", "--json"]);
    expect(machineStatusArgs("m")).toEqual(["machine", "status", "--name", "m", "--json"]);
  });

  it("machine exec: options before --, command after it", () => {
    expect(machineExecArgs("m", ["sh", "-c", "echo --name"], { env: { A: "1" }, workdir: "/w", interactive: true, tty: true, timeoutSeconds: 2.5 })).toEqual([
      "machine", "exec", "--name", "m", "--env", "A=1", "--workdir", "/w", "--interactive", "--tty", "--timeout", "3s", "--", "sh", "-c", "echo --name",
    ]);
    expect(() => machineExecArgs("m", [])).toThrow(/empty command/);
  });

  it("machine cp: octal mode, uid, gid, then SRC and machine:DST", () => {
    expect(machineCopyInArgs("/tmp/ca.crt", "m", "/usr/local/share/ca-certificates/bottle-ca.crt", { mode: 0o644, uid: 0, gid: 0 })).toEqual([
      "machine", "cp", "--mode", "0644", "--uid", "0", "--gid", "0", "/tmp/ca.crt", "m:/usr/local/share/ca-certificates/bottle-ca.crt",
    ]);
    expect(machineCopyInArgs("/a", "m", "/b")).toEqual(["machine", "cp", "/a", "m:/b"]);
    expect(() => machineCopyInArgs("/a", "m", "relative")).toThrow(/absolute/);
    expect(machineCopyOutArgs("m", "/var/log/x", "/tmp/x")).toEqual(["machine", "cp", "m:/var/log/x", "/tmp/x"]);
  });

  it("resources: cpus rounded up into smolvm's u8, memory sizes into MiB", () => {
    expect([cpuCount(0.5), cpuCount(2), cpuCount(1000)]).toEqual([1, 2, 255]);
    expect(memoryToMib("4g")).toBe(4096);
    expect(memoryToMib("512m")).toBe(512);
    expect(memoryToMib("1.5G")).toBe(1536);
    expect(memoryToMib("2048k")).toBe(2);
    expect(memoryToMib("1048576")).toBe(1);
    expect(() => memoryToMib("lots")).toThrow(/size like/);
  });
});
