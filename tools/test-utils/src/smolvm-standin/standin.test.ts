import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSmolvmStandin } from "./standin.js";

// Docker-free behaviour of the stand-in: argument parsing, records, JSON and error texts.
// (The docker-backed paths run in packages/backend-smolvm's integration suite.)
let dir: string;
let env: NodeJS.ProcessEnv;

async function run(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await runSmolvmStandin(argv, env, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "standin-unit-"));
  env = { SMOLVM_STANDIN_STATE: path.join(dir, "state"), SMOLVM_STANDIN_ARGV_LOG: path.join(dir, "argv.jsonl"), SMOLVM_STANDIN_DOCKER: path.join(dir, "no-docker") };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("smolvm-standin", () => {
  it("answers --version like smolvm 1.9.3 and says it is a stand-in on stderr", async () => {
    expect(await run("--version")).toEqual({ code: 0, out: "smolvm 1.9.3\n", err: expect.stringContaining("stand-in") });
  });

  it("records machines from create and lists them in smolvm's JSON shape", async () => {
    expect(await run("machine", "ls", "--json")).toMatchObject({ code: 0, out: "[]\n" });
    const created = await run("machine", "create", "--name", "m1", "--label", "a=b", "--label=c=d=e", "-I", "/x/img.tar", "--cpus", "2", "--mem", "512", "--network", "n", "--allow-cidr", "100.96.1.2/32", "-e", "K=V", "--", "sleep", "infinity");
    expect(created).toEqual({ code: 0, out: "Created machine: m1\n", err: "" });
    const list = JSON.parse((await run("machine", "ls", "--json")).out) as Record<string, unknown>[];
    expect(list).toHaveLength(1);
    expect(Object.keys(list[0]!).slice(0, 6)).toEqual(["name", "state", "cpus", "memory_mib", "pid", "mounts"]);
    expect(list[0]).toMatchObject({ name: "m1", state: "created", cpus: 2, memory_mib: 512, image: "/x/img.tar", labels: { a: "b", c: "d=e" }, network: true, cmd: ["sleep", "infinity"] });
    const status = JSON.parse((await run("machine", "status", "--name", "m1", "--json")).out) as Record<string, unknown>;
    expect(status).toEqual(list[0]);
  });

  it("prints smolvm's error texts with exit code 1", async () => {
    expect(await run("machine", "create", "--name", "m1", "--image", "x.tar")).toEqual({
      code: 1,
      out: "",
      err: "Error: config operation failed: create machine: machine 'm1' already exists or is being created\n",
    });
    expect((await run("machine", "exec", "--name", "ghost", "--", "true")).err).toBe("Error: vm not found: ghost\n");
    expect((await run("machine", "stop", "--name", "ghost")).err).toBe("Error: vm not found: ghost\n");
    expect((await run("machine", "status", "--name", "ghost", "--json")).err).toBe("Error: config operation failed: machine status: machine 'ghost' not found\n");
    expect((await run("machine", "cp", "/a", "/b")).err).toBe("Error: config operation failed: cp: one of SRC or DST must use machine:path syntax (e.g., myvm:/workspace/file)\n");
    expect((await run("machine", "cp", "--mode", "600", "m1:/a", "/b")).err).toMatch(/apply to uploads only/);
  });

  it("simulates smolvm's KVM failure on start", async () => {
    const saved = env;
    env = { ...env, SMOLVM_STANDIN_SIMULATE: "kvm-unavailable" };
    try {
      const r = await run("machine", "start", "--name", "m1");
      expect(r.code).toBe(1);
      expect(r.err).toContain("Error: kvm not available: KVM not available. Ensure KVM kernel module is loaded.");
    } finally {
      env = saved;
    }
  });

  it("rejects unknown flags like clap (exit 2) and logs every argv", async () => {
    expect(await run("machine", "create", "--name", "m2", "--bogus")).toEqual({ code: 2, out: "", err: "error: unexpected argument '--bogus' found\n" });
    expect((await run("machine", "exec", "-n", "m1", "--", "true")).code).toBe(2); // exec has no -n in 1.9.3
    expect((await run("machine", "fork")).code).toBe(2);
    const lines = (await readFile(env.SMOLVM_STANDIN_ARGV_LOG!, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as string[]);
    expect(lines[0]).toEqual(["--version"]);
    expect(lines.at(-1)).toEqual(["machine", "fork"]);
  });
});

describe("installSmolvmStandin", () => {
  it("writes an executable that forwards argv, output and exit codes through the stand-in server", async () => {
    const { installSmolvmStandin } = await import("./index.js");
    const { runProcess } = await import("./proc.js");
    const standin = await installSmolvmStandin({ docker: path.join(dir, "no-docker") });
    try {
      expect(await runProcess(standin.bin, ["--version"])).toMatchObject({ exitCode: 0, stdout: "smolvm 1.9.3\n" });
      expect(await runProcess(standin.bin, ["machine", "status", "--name", "ghost", "--json"])).toEqual({
        exitCode: 1,
        stdout: "",
        stderr: "Error: config operation failed: machine status: machine 'ghost' not found\n",
      });
      expect(await standin.readArgv()).toEqual([["--version"], ["machine", "status", "--name", "ghost", "--json"]]);
    } finally {
      await standin.cleanup();
    }
  });
});
