import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseManifest } from "@bottle/manifest";
import { resolvePlan } from "@bottle/plan";
import { describe, expect, it } from "vitest";
import { assertAgentRuntime, engineRuntimes, runscCheck } from "./runtimes.js";

/** A `docker` executable that answers `info --format {{json .Runtimes}}` with `runtimes`. */
function fakeDocker(runtimes: string): { docker: string; dockerCompose: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "fake-docker-"));
  const docker = path.join(dir, "docker");
  writeFileSync(docker, `#!/bin/sh\n[ "$1" = info ] && printf '%s\\n' '${runtimes}' && exit 0\nexit 1\n`);
  chmodSync(docker, 0o755);
  return { docker, dockerCompose: path.join(dir, "none") };
}

const plan = (agent: Record<string, unknown>) => resolvePlan(parseManifest(JSON.stringify({ bottles: { b: { agent } } })), "b", { manifestPath: "/tmp/x/bottle.json" });

describe("agent runtimes", () => {
  it("lists the engine's runtimes", async () => {
    expect(await engineRuntimes(fakeDocker('{"runc":{"path":"runc"},"runsc":{"path":"/usr/bin/runsc"}}'))).toEqual(["runc", "runsc"]);
    expect(await engineRuntimes(fakeDocker("not json"))).toEqual([]);
  });

  it("doctor: runsc is an optional check with a hint naming daemon.json and --network=host", () => {
    expect(runscCheck(["runc", "runsc"])).toMatchObject({ ok: true, optional: true });
    const missing = runscCheck(["runc"]);
    expect(missing).toMatchObject({ ok: false, optional: true });
    expect(missing.hint).toContain("daemon.json");
    expect(missing.hint).toContain("--network=host");
  });

  it("start refuses runsc when the engine does not list it, and never asks for runc", async () => {
    const runcOnly = fakeDocker('{"runc":{"path":"runc"}}');
    await expect(assertAgentRuntime(plan({ runtime: "runsc" }), runcOnly)).rejects.toMatchObject({ code: "DOCKER_RUNTIME_MISSING" });
    await expect(assertAgentRuntime(plan({ runtime: "runsc" }), fakeDocker('{"runc":{},"runsc":{}}'))).resolves.toBeUndefined();
    const broken = { docker: "/nonexistent/docker", dockerCompose: "/nonexistent/compose" };
    await expect(assertAgentRuntime(plan({}), broken)).resolves.toBeUndefined();
    await expect(assertAgentRuntime(plan({ runtime: "runc" }), broken)).resolves.toBeUndefined();
  });
});
