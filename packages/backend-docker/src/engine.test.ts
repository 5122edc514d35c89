import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BottleError } from "@bottle/errors";
import { afterAll, describe, expect, it } from "vitest";
import { checkEngine, detectCompose, detectComposeCached, parseVersion } from "./engine.js";
import { doctor } from "./status.js";

// Fake `docker` / `docker-compose` executables: real processes with scripted output.
const dir = mkdtempSync(path.join(os.tmpdir(), "bottle-fake-docker-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function fake(body: string): string {
  const file = path.join(dir, `fake-${n++}`);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}
const missing = path.join(dir, "does-not-exist");

const dockerWithPlugin = fake(`case "$1 $2" in "compose version") echo "v2.29.7";; "info --format") echo "20.10.24+dfsg1";; *) exit 1;; esac`);
const dockerWithoutPlugin = fake(`case "$1" in compose) echo "docker: unknown command: docker compose" >&2; exit 1;; info) echo "20.10.24+dfsg1";; *) exit 1;; esac`);
const dockerNoEngine = fake(`echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1`);
const composeV1 = fake(`[ "$1" = version ] && echo "1.29.2"`);
const composeV2Standalone = fake(`[ "$1" = version ] && echo "2.24.0"`);

describe("detectComposeCached", () => {
  it("asks a standalone docker-compose once, and again when the binary changes", async () => {
    const calls = path.join(dir, "v1-calls");
    const compose = fake(`echo x >> ${calls}; [ "$1" = version ] && echo "1.29.2"`);
    const count = () => readFileSync(calls, "utf8").split("\n").filter(Boolean).length;
    const before = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = path.join(dir, "cache");
    try {
      const tools = { docker: dockerWithoutPlugin, dockerCompose: compose };
      const expected = { flavour: "v1", argv: [compose], version: "1.29.2" };
      expect(await detectComposeCached(tools)).toEqual(expected);
      expect(await detectComposeCached(tools)).toEqual(expected);
      expect(count()).toBe(1);
      appendFileSync(compose, "# upgraded\n");
      expect(await detectComposeCached(tools)).toEqual(expected);
      expect(count()).toBe(2);
      // The plugin, once present, wins over the cached standalone answer.
      expect((await detectComposeCached({ docker: dockerWithPlugin, dockerCompose: compose })).flavour).toBe("v2");
    } finally {
      if (before === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = before;
    }
  });
});

describe("detectCompose", () => {
  it("prefers the docker compose plugin", async () => {
    expect(await detectCompose({ docker: dockerWithPlugin, dockerCompose: composeV1 })).toEqual({ flavour: "v2", argv: [dockerWithPlugin, "compose"], version: "2.29.7" });
  });

  it("falls back to docker-compose v1", async () => {
    expect(await detectCompose({ docker: dockerWithoutPlugin, dockerCompose: composeV1 })).toEqual({ flavour: "v1", argv: [composeV1], version: "1.29.2" });
  });

  it("recognises a v2 binary installed as docker-compose", async () => {
    expect((await detectCompose({ docker: dockerWithoutPlugin, dockerCompose: composeV2Standalone })).flavour).toBe("v2");
  });

  it("says clearly when there is no compose at all", async () => {
    const error = await detectCompose({ docker: dockerWithoutPlugin, dockerCompose: missing }).catch((e: unknown) => e);
    expect(BottleError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "DOCKER_COMPOSE_NOT_FOUND", hint: expect.stringMatching(/docker-compose/) });
  });
});

describe("checkEngine", () => {
  it("returns the server version", async () => {
    expect(await checkEngine({ docker: dockerWithPlugin, dockerCompose: composeV1 })).toEqual({ serverVersion: "20.10.24+dfsg1" });
  });

  it("explains an unreachable engine", async () => {
    const error = await checkEngine({ docker: dockerNoEngine, dockerCompose: composeV1 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "DOCKER_ENGINE_UNAVAILABLE", hint: expect.stringMatching(/start/i) });
    expect((error as BottleError).details).toMatchObject({ output: expect.stringMatching(/Cannot connect/) });
  });

  it("explains a missing docker CLI", async () => {
    await expect(checkEngine({ docker: missing, dockerCompose: composeV1 })).rejects.toMatchObject({ code: "DOCKER_NOT_FOUND" });
  });
});

describe("parseVersion", () => {
  it.each([
    ["1.29.2", "1.29.2"],
    ["v2.29.7", "2.29.7"],
    ["docker-compose version 1.29.2, build unknown", "1.29.2"],
    ["Docker Compose version v2.20.2-desktop.1", "2.20.2-desktop.1"],
    ["unknown command", undefined],
  ])("%s → %s", (input, expected) => {
    expect(parseVersion(input)).toBe(expected);
  });
});

describe("doctor", () => {
  it("reports every check without throwing, with hints for what is missing", async () => {
    const docker = fake(`case "$1" in compose) exit 1;; info) echo "20.10.24";; image) [ "$3" = "--format" ] && [ "$5" = "bottle/sidecars:latest" ] && echo "sha256:0123456789abcdef0123" && exit 0; exit 1;; esac`);
    const result = await doctor({ tools: { docker, dockerCompose: composeV1 } });
    expect(result.ok).toBe(false);
    expect(result.checks.map((c) => [c.name, c.ok])).toEqual([
      ["docker engine", true],
      ["compose", true],
      ["image bottle/sidecars:latest", true],
      ["image bottle/agent:latest", false],
    ]);
    expect(result.checks[3]!.hint).toMatch(/Build/);
  });

  it("stops at the engine when there is none", async () => {
    const result = await doctor({ tools: { docker: dockerNoEngine, dockerCompose: missing } });
    expect(result.checks).toMatchObject([
      { name: "docker engine", ok: false, hint: expect.stringMatching(/start/i) },
      { name: "compose", ok: false },
    ]);
  });
});
