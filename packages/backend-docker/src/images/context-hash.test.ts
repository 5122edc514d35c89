import { chmod, mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { contextHash } from "./context-hash.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "ctx-hash-"));
  await writeFile(path.join(dir, "Dockerfile"), "FROM bottle/base:bookworm\n");
  await mkdir(path.join(dir, "bin"));
  await writeFile(path.join(dir, "bin", "a.mjs"), "console.log(1)\n");
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("contextHash", () => {
  it("is stable across re-staging (timestamps do not count)", async () => {
    const first = await contextHash({ contextDir: dir, extra: { base: "sha256:1" } });
    await utimes(path.join(dir, "Dockerfile"), new Date(0), new Date(0));
    const second = await contextHash({ contextDir: dir, extra: { base: "sha256:1" } });
    expect(second).toBe(first);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
  });

  it("changes with file content, names, the executable bit and extra inputs", async () => {
    const original = await contextHash({ contextDir: dir, extra: { base: "sha256:1" } });
    const seen = new Set([original]);

    await writeFile(path.join(dir, "bin", "a.mjs"), "console.log(2)\n");
    const content = await contextHash({ contextDir: dir, extra: { base: "sha256:1" } });
    seen.add(content);

    await chmod(path.join(dir, "bin", "a.mjs"), 0o755);
    const mode = await contextHash({ contextDir: dir, extra: { base: "sha256:1" } });
    seen.add(mode);

    await writeFile(path.join(dir, "bin", "b.mjs"), "");
    const added = await contextHash({ contextDir: dir, extra: { base: "sha256:1" } });
    seen.add(added);

    const base = await contextHash({ contextDir: dir, extra: { base: "sha256:2" } });
    seen.add(base);

    expect(seen.size).toBe(5);
  });

  it("does not depend on the order extra inputs are given in", async () => {
    const a = await contextHash({ contextDir: dir, extra: { x: "1", y: "2" } });
    const b = await contextHash({ contextDir: dir, extra: { y: "2", x: "1" } });
    expect(a).toBe(b);
  });
});
