import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile, mkdir, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMIT_MESSAGE_PATH, createScanner, KNOWN_SECRET_RULE, scanGitRevisions } from "./index.js";

const run = promisify(execFile);
const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/bin.js");
const TOKEN = "sk-bottle-known-0123456789abcdef";
const AWS_LINE = 'aws_secret_access_key = "Tz8rJq3vXb9LmN2pQw7eRt5yUi1oPa4sDf6gHj0k"';

let dir: string;
let env: NodeJS.ProcessEnv;

async function git(...args: string[]): Promise<string> {
  return (await run("git", args, { cwd: dir, env })).stdout.trim();
}

async function gitInput(input: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("git", args, { cwd: dir, env }, (error, stdout) => (error ? reject(error) : resolve(stdout.trim())));
    child.stdin?.end(input);
  });
}

async function commit(files: Record<string, string | Buffer>, message: string): Promise<string> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  await git("add", "-A");
  await git("commit", "--quiet", "--allow-empty", "-m", message);
  return git("rev-parse", "HEAD");
}

const scanner = createScanner({ knownSecrets: { "git.app.credential": TOKEN } });
const scan = (...revisions: string[]) => scanGitRevisions({ gitDir: path.join(dir, ".git"), revisions, scanner, env });

let base: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "bottle-scan-git-"));
  env = {
    PATH: process.env.PATH,
    HOME: dir,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "T",
    GIT_AUTHOR_EMAIL: "t@example.invalid",
    GIT_COMMITTER_NAME: "T",
    GIT_COMMITTER_EMAIL: "t@example.invalid",
  };
  await git("init", "--quiet", "--initial-branch=main");
  const lines = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
  base = await commit({ "app/config.ini": `${AWS_LINE}\n${lines.join("\n")}\n` }, "base with an old finding");
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("scanGitRevisions", () => {
  it("scans only added lines, with the line numbers of the pushed file", async () => {
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
    lines.splice(9, 0, `token = ${TOKEN}`);
    const sha = await commit({ "app/config.ini": `${AWS_LINE}\n${lines.join("\n")}\n` }, "add a token");
    const result = await scan(sha, "--not", base);
    expect(result.findings).toEqual([
      expect.objectContaining({ rule: KNOWN_SECRET_RULE, path: "app/config.ini", line: 11, column: 9, secretId: "git.app.credential", commit: sha }),
    ]);
    expect(result.commits).toBe(1);
    await git("reset", "--quiet", "--hard", base);
  });

  it("finds secrets in commit messages, renamed files and binary blobs; ignores deletions", async () => {
    await rename(path.join(dir, "app/config.ini"), path.join(dir, "app/settings.ini"));
    await writeFile(path.join(dir, "app/settings.ini"), `${AWS_LINE}\nextra ${Buffer.from(TOKEN).toString("hex")}\n`, { flag: "a" });
    const a = await commit({ "img.bin": Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(TOKEN)]) }, `release notes\n\nuses ${TOKEN}`);
    await rm(path.join(dir, "img.bin"));
    const b = await commit({}, "delete the blob");
    const result = await scan(b, "--not", base);
    const summary = result.findings.map((f) => [f.path, f.rule, f.commit === a]);
    expect(summary).toEqual(
      expect.arrayContaining([
        [COMMIT_MESSAGE_PATH, KNOWN_SECRET_RULE, true],
        ["img.bin", KNOWN_SECRET_RULE, true],
        ["app/settings.ini", KNOWN_SECRET_RULE, true],
        ["app/settings.ini", "@secretlint/secretlint-rule-aws", true],
      ]),
    );
    expect(result.findings).toHaveLength(4);
    expect(result.binaryBlobs).toBe(1);
    await git("reset", "--quiet", "--hard", base);
  });

  it("sees content an evil merge adds beyond both parents", async () => {
    await git("checkout", "--quiet", "-b", "side");
    await commit({ "side.txt": "side work\n" }, "side");
    await git("checkout", "--quiet", "main");
    await commit({ "main.txt": "main work\n" }, "main");
    await git("merge", "--quiet", "--no-commit", "side");
    await writeFile(path.join(dir, "merge-only.txt"), `${AWS_LINE}\n`);
    await git("add", "-A");
    await git("commit", "--quiet", "-m", "merge");
    const result = await scan("HEAD", "--not", base);
    expect(result.findings.map((f) => f.path)).toEqual(["merge-only.txt"]);
    await git("reset", "--quiet", "--hard", base);
  });

  it("does not rescan what a merge takes from a parent the upstream already has", async () => {
    await git("checkout", "--quiet", "-b", "feature");
    await commit({ "feature.txt": "feature work\n" }, "feature");
    await git("checkout", "--quiet", "main");
    await commit({ "fixtures/aws.ini": `${AWS_LINE}\n` }, "upstream adds a test fixture");
    await git("checkout", "--quiet", "feature");
    await git("merge", "--quiet", "--no-edit", "main");
    const result = await scan("feature", "--not", "main");
    expect(result.commits).toBe(2);
    expect(result.findings).toEqual([]);
    await git("checkout", "--quiet", "main");
    await git("reset", "--quiet", "--hard", base);
  });

  it("reports paths with spaces and non-ASCII characters as they are", async () => {
    const sha = await commit({ "docs/my notes é.txt": `x\n${TOKEN}\n` }, "notes");
    const result = await scan(sha, "--not", base);
    expect(result.findings.map((f) => [f.path, f.line])).toEqual([["docs/my notes é.txt", 2]]);
    await git("reset", "--quiet", "--hard", base);
  });

  it("scans a blob a tag points at, and a tree an annotated tag points at", async () => {
    const blob = await gitInput(`${AWS_LINE}\n`, "hash-object", "-w", "--stdin");
    await git("tag", "blob-tag", blob);
    const inner = await gitInput(`token ${TOKEN}\n`, "hash-object", "-w", "--stdin");
    const tree = await gitInput(`100644 blob ${inner}\tkey.txt\n`, "mktree");
    await git("tag", "-a", "-m", "a tree", "tree-tag", tree);
    const result = await scan(await git("rev-parse", "blob-tag"), await git("rev-parse", "tree-tag"), "--not", base);
    expect(result.findings.map((f) => [f.path, f.rule]).sort()).toEqual([
      ["(blob " + blob.slice(0, 12) + ")", "@secretlint/secretlint-rule-aws"],
      ["key.txt", KNOWN_SECRET_RULE],
    ]);
    expect(result.looseBlobs).toBe(2);
    await git("tag", "-d", "blob-tag", "tree-tag");
  });

  it("reads the real objects, not what refs/replace/* substitutes", async () => {
    const clean = await commit({ "clean.txt": "nothing here\n" }, "clean");
    await git("reset", "--quiet", "--hard", base);
    const dirty = await commit({ "leak.ini": `${AWS_LINE}\n` }, "dirty");
    await git("replace", dirty, clean);
    const result = await scan(dirty, "--not", base);
    expect(result.findings.map((f) => [f.path, f.commit])).toEqual([["leak.ini", dirty]]);
    await git("replace", "-d", dirty);
    await git("reset", "--quiet", "--hard", base);
  });

  it.each([
    ["UTF-16LE with a BOM", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`token = ${TOKEN}\n`, "utf16le")])],
    ["UTF-16LE without a BOM", Buffer.from(`token = ${TOKEN}\n`, "utf16le")],
    ["UTF-16BE with a BOM", Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(`token = ${TOKEN}\n`, "utf16le").swap16()])],
    ["UTF-16BE without a BOM", Buffer.from(`token = ${TOKEN}\n`, "utf16le").swap16()],
  ])("finds a known secret value in %s text", async (_what, content) => {
    const sha = await commit({ "notes.txt": content }, "utf-16 notes");
    const result = await scan(sha, "--not", base);
    expect(result.findings).toEqual([expect.objectContaining({ path: "notes.txt", rule: KNOWN_SECRET_RULE, secretId: "git.app.credential" })]);
    await git("reset", "--quiet", "--hard", base);
  });

  it("runs secretlint's rules over UTF-16 text too", async () => {
    const sha = await commit({ "aws.ini": Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${AWS_LINE}\n`, "utf16le")]) }, "utf-16 aws");
    const result = await scan(sha, "--not", base);
    expect(result.findings.map((f) => [f.path, f.rule])).toEqual([["aws.ini", "@secretlint/secretlint-rule-aws"]]);
    await git("reset", "--quiet", "--hard", base);
  });

  it("fails on a bad revision instead of reporting clean", async () => {
    await expect(scan("no-such-rev")).rejects.toThrow(/git log failed/);
  });
});

describe("bottle-scan bin", () => {
  it("exits 0 clean, 1 with findings (JSON, no secret values) and 2 on usage errors", async () => {
    const secrets = path.join(dir, ".git", "bottle-secrets.json");
    await writeFile(secrets, JSON.stringify({ "git.app.credential": TOKEN }));
    const clean = await run(process.execPath, [bin, "git", "--repo", path.join(dir, ".git"), "--secrets", secrets, "--range", `${base}..${base}`]);
    expect(clean.stdout).toBe("");
    const sha = await commit({ "leak.txt": `${TOKEN}\n` }, "leak");
    const dirty = await run(process.execPath, [bin, "git", "--json", "--repo", path.join(dir, ".git"), "--secrets", secrets, "--range", `${base}..${sha}`]).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect((dirty as { code?: number }).code).toBe(1);
    const parsed = JSON.parse(dirty.stdout) as { findings: { path: string; secretId: string }[] };
    expect(parsed.findings).toEqual([expect.objectContaining({ path: "leak.txt", secretId: "git.app.credential" })]);
    expect(dirty.stdout).not.toContain(TOKEN);
    const usage = await run(process.execPath, [bin, "git"]).catch((e: { code: number; stderr: string }) => e);
    expect((usage as { code?: number }).code).toBe(2);
    expect((usage as { stderr: string }).stderr).toContain("usage:");
    await git("reset", "--quiet", "--hard", base);
  });
});
