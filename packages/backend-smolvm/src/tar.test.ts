import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile, readlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTar, folderEntries } from "./tar.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "smolvm-tar-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("createTar", () => {
  it("writes an archive GNU tar unpacks with contents, modes and long paths", async () => {
    const long = `etc/${"d".repeat(90)}/${"f".repeat(90)}.json`;
    const archive = createTar([
      { type: "dir", path: "/etc/bottle", mode: 0o755 },
      { type: "file", path: "/etc/bottle/routes.json", content: '{"version":1}\n', mode: 0o644 },
      { type: "file", path: "/run/bottle/secrets/secrets.json", content: '{"k":"v"}', mode: 0o600 },
      { type: "file", path: `/${long}`, content: "x", mode: 0o640 },
      { type: "symlink", path: "/etc/bottle/link", target: "routes.json" },
    ]);
    expect(archive.length % 512).toBe(0);
    const out = path.join(dir, "out");
    await mkdir(out);
    await execa("tar", ["-xf", "-", "-C", out], { input: archive });
    expect(await readFile(path.join(out, "etc/bottle/routes.json"), "utf8")).toBe('{"version":1}\n');
    expect((await stat(path.join(out, "run/bottle/secrets/secrets.json"))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(out, long))).mode & 0o777).toBe(0o640);
    expect(await readlink(path.join(out, "etc/bottle/link"))).toBe("routes.json");
    const listing = (await execa("tar", ["-tvf", "-"], { input: archive })).stdout;
    expect(listing).toMatch(/-rw------- 0\/0 .* run\/bottle\/secrets\/secrets.json/);
  });

  it("folderEntries walks a folder, keeps modes and symlinks, honours skip", async () => {
    const src = path.join(dir, "skill");
    await mkdir(path.join(src, "sub"), { recursive: true });
    await mkdir(path.join(src, ".git"));
    await writeFile(path.join(src, "SKILL.md"), "# s\n", { mode: 0o644 });
    await writeFile(path.join(src, "sub", "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    await writeFile(path.join(src, ".git", "HEAD"), "ref\n");
    await symlink("SKILL.md", path.join(src, "README.md"));
    const entries = await folderEntries(src, "/home/node/.claude/skills/s", (rel) => rel === ".git" || rel.startsWith(".git/"));
    expect(entries.map((e) => `${e.type} ${e.path}`)).toEqual([
      "dir /home/node/.claude/skills/s",
      "symlink /home/node/.claude/skills/s/README.md",
      "file /home/node/.claude/skills/s/SKILL.md",
      "dir /home/node/.claude/skills/s/sub",
      "file /home/node/.claude/skills/s/sub/run.sh",
    ]);
    const run = entries.find((e) => e.path.endsWith("run.sh"));
    expect(run?.type === "file" && run.mode).toBe(0o755);
  });
});
