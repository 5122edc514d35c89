import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BottleError } from "@bottle/errors";
import { parseManifest } from "@bottle/manifest";
import { resolvePlan } from "@bottle/plan";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSmolvmBackend } from "./backend.js";

// A scripted smolvm: logs its argv, answers --version, create and ls, and fails `start`
// with smolvm 1.9.3's KVM error (src/platform/linux.rs via main.rs `Error: {e}`).
const FAKE = `#!/bin/sh
printf '%s\\n' "$*" >> "$FAKE_LOG"
case "$1 $2" in
  "--version ") echo "smolvm 1.9.3" ;;
  "machine create") echo "Created machine: x" ;;
  "machine start") echo "Error: kvm not available: KVM not available. Ensure KVM kernel module is loaded." >&2; exit 1 ;;
  "machine status") echo '{"name":"x","state":"failed","labels":{}}' ;;
  "machine stop") echo "Machine stopped" ;;
  "machine delete") echo "Deleted machine" ;;
  "machine ls") echo '[{"name":"bottle-dev-x-bundle","state":"stopped","labels":{"dev.bottle.managed":"true","dev.bottle.slug":"dev-x","dev.bottle.name":"dev","dev.bottle.role":"bundle"}},{"name":"other","state":"running","labels":{}}]' ;;
  *) echo "Error: unexpected $*" >&2; exit 1 ;;
esac
`;

let dir: string;
let bin: string;
let log: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "smolvm-fake-"));
  bin = path.join(dir, "smolvm");
  log = path.join(dir, "argv.log");
  await writeFile(bin, FAKE);
  await chmod(bin, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const plan = () =>
  resolvePlan(parseManifest(JSON.stringify({ bottles: { dev: { backend: "smolvm" } } })), "dev", { manifestPath: "/proj/bottle.json", backend: "smolvm" });

describe("smolvm backend against a scripted CLI", () => {
  it("launch maps a KVM failure to a BottleError and deletes the machine it created", async () => {
    await writeFile(log, "");
    const backend = createSmolvmBackend({ bin, env: { ...process.env, FAKE_LOG: log } });
    const error = await backend
      .launch({ planFor: () => plan(), bundleFiles: [], caCertPem: "-----BEGIN CERTIFICATE-----", images: { bundle: "/x/bundle.tar", agent: "/x/agent.tar" } })
      .catch((e: unknown) => e);
    expect(BottleError.isInstance(error) && error.code).toBe("SMOLVM_KVM_UNAVAILABLE");
    expect((error as BottleError).hint).toMatch(/modprobe/);
    const calls = (await readFile(log, "utf8")).trim().split("\n");
    const bundle = plan().machines.bundle;
    expect(calls.map((c) => c.split(" ").slice(0, 4).join(" "))).toEqual([
      "--version",
      `machine create --name ${bundle}`,
      `machine start --name ${bundle}`,
      `machine status --name ${bundle}`,
      `machine delete --name ${bundle}`,
    ]);
  });

  it("launch without bundle files or CA says what it needs before touching smolvm", async () => {
    await writeFile(log, "");
    const backend = createSmolvmBackend({ bin, env: { ...process.env, FAKE_LOG: log } });
    const error = await backend.launch({ planFor: () => plan() }).catch((e: unknown) => e);
    expect(BottleError.isInstance(error) && error.code).toBe("SMOLVM_LAUNCH_INPUT");
    expect(await readFile(log, "utf8")).toBe("");
  });

  it("list groups managed machines by slug and ignores the rest", async () => {
    const backend = createSmolvmBackend({ bin, env: { ...process.env, FAKE_LOG: log } });
    expect(await backend.list()).toEqual([
      { slug: "dev-x", bottle: "dev", backend: "smolvm", machines: [{ name: "bottle-dev-x-bundle", role: "bundle", state: "stopped" }] },
    ]);
  });

  it("a missing binary is a clear error, and doctor says so", async () => {
    const backend = createSmolvmBackend({ bin: path.join(dir, "no-such-smolvm") });
    const error = await backend.list().catch((e: unknown) => e);
    expect(BottleError.isInstance(error) && error.code).toBe("SMOLVM_NOT_FOUND");
    expect((error as BottleError).hint).toContain("BOTTLE_SMOLVM_BIN");
    const report = await backend.doctor();
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === "smolvm")).toMatchObject({ ok: false, detail: expect.stringContaining("not found") });
  });

  it("BOTTLE_SMOLVM_BIN picks the binary at call time", async () => {
    const saved = process.env.BOTTLE_SMOLVM_BIN;
    process.env.BOTTLE_SMOLVM_BIN = bin;
    try {
      const report = await createSmolvmBackend({ env: { ...process.env, FAKE_LOG: log } }).doctor();
      expect(report.checks[0]).toEqual({ name: "smolvm", ok: true, detail: `${bin}: smolvm 1.9.3` });
    } finally {
      if (saved === undefined) delete process.env.BOTTLE_SMOLVM_BIN;
      else process.env.BOTTLE_SMOLVM_BIN = saved;
    }
  });
});
