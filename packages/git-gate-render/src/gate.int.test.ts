import { generateKeyPairSync } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  commitToUpstream,
  createUpstreamRepo,
  freePort,
  git,
  gitEnv,
  gitOk,
  gitWithInput,
  logContaining,
  startGate,
  startGitDaemon,
  startSshd,
  tempDir,
  upstreamPlan,
  type Daemon,
  type Gate,
  type Sshd,
} from "./__fixtures__/harness.js";

const TOKEN = "glpat-bottleKnownSecret-7Hq2Zx9Lm4Wv";
const AWS_LINE = 'aws_secret_access_key = "Tz8rJq3vXb9LmN2pQw7eRt5yUi1oPa4sDf6gHj0k"\n';
const PRIVATE_KEY = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();

let root: string;
let env: NodeJS.ProcessEnv;
let upstreamDir: string;
let upstreamDaemon: Daemon;
let sshd: Sshd;
let gate: Gate;
let work = 0;

const bare = (name: string): string => path.join(upstreamDir, `${name}.git`);
const sshUrl = (name: string): string => `ssh://${sshd.user}@127.0.0.1:${sshd.port}${bare(name)}`;

/** A fresh clone through the gate. */
async function cloneViaGate(name: string): Promise<string> {
  const dir = path.join(root, "work", `${name}-${work++}`);
  await mkdir(path.dirname(dir), { recursive: true });
  await gitOk(env, root, "clone", "--quiet", gate.url(name), dir);
  return dir;
}

async function commitFile(dir: string, file: string, content: string | Buffer, message = `add ${file}`): Promise<string> {
  await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
  await writeFile(path.join(dir, file), content);
  await gitOk(env, dir, "add", "-A");
  await gitOk(env, dir, "commit", "--quiet", "-m", message);
  return gitOk(env, dir, "rev-parse", "HEAD");
}

const upstreamRef = (name: string, ref: string): Promise<string> => gitOk(env, bare(name), "rev-parse", ref);

beforeAll(async () => {
  root = await tempDir("gate");
  const home = path.join(root, "home");
  await mkdir(home, { recursive: true });
  env = gitEnv(home);
  upstreamDir = path.join(root, "upstream");
  await mkdir(upstreamDir, { recursive: true });

  await createUpstreamRepo(env, bare("main-default"), "main");
  await createUpstreamRepo(env, bare("master-default"), "master");
  await createUpstreamRepo(env, bare("app"), "main", { "README.md": "app\n", "src/index.ts": "export const x = 1;\n" });
  for (const name of ["nopin", "wrongpin"]) await createUpstreamRepo(env, bare(name), "main");

  upstreamDaemon = await startGitDaemon(upstreamDir, env);
  sshd = await startSshd(path.join(root, "sshd"), env);
  const otherHostKey = (await startSshdKeyOnly(path.join(root, "other-key"))).trim();
  const daemonUrl = (name: string): string => `git://127.0.0.1:${upstreamDaemon.port}/${name}.git`;
  const closedPort = await freePort();

  gate = await startGate(
    path.join(root, "gate"),
    [
      upstreamPlan("main-default", daemonUrl("main-default")),
      upstreamPlan("master-default", daemonUrl("master-default"), { allowedRefs: ["refs/heads/agent/*"] }),
      upstreamPlan("app", sshUrl("app"), { credential: "git.app.credential", knownHostKey: sshd.hostKey }),
      upstreamPlan("nopin", sshUrl("nopin"), { credential: "git.nopin.credential" }),
      upstreamPlan("wrongpin", sshUrl("wrongpin"), { credential: "git.wrongpin.credential", knownHostKey: otherHostKey }),
      upstreamPlan("down", `git://127.0.0.1:${closedPort}/down.git`),
      upstreamPlan("https-app", "https://git.example.invalid/team/app.git", { credential: "git.https-app.credential", username: "bot" }),
    ],
    env,
    {
      app: { ssh_key: sshd.clientKey },
      nopin: { ssh_key: sshd.clientKey },
      wrongpin: { ssh_key: sshd.clientKey },
      "https-app": { token: TOKEN },
    },
    { "git.https-app.credential": TOKEN },
  );
});

/** The public half of a throwaway host key: a pinned key that does not match the server. */
async function startSshdKeyOnly(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const { execFile } = await import("node:child_process");
  const { promisify } = await import("node:util");
  await promisify(execFile)("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path.join(dir, "k")]);
  return (await readFile(path.join(dir, "k.pub"), "utf8")).split(/\s+/).slice(0, 2).join(" ");
}

afterAll(async () => {
  await gate?.stop();
  await sshd?.stop();
  await upstreamDaemon?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe("fetch through the gate", () => {
  it("warms the mirrors in the background at start, before any client asks", async () => {
    const mirror = path.join(gate.mirrors, "app.git");
    const deadline = Date.now() + 20_000;
    let r = await git(env, mirror, "rev-parse", "--verify", "refs/heads/main");
    while (r.code !== 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      r = await git(env, mirror, "rev-parse", "--verify", "refs/heads/main");
    }
    expect(r.stdout.trim()).toBe(await upstreamRef("app", "refs/heads/main"));
    expect(gate.log()).not.toContain("Request upload-pack for '/app.git'");
  });

  it("clones the upstream's HEAD for a main-default and a master-default upstream", async () => {
    for (const [name, branch] of [["main-default", "main"], ["master-default", "master"]] as const) {
      const dir = await cloneViaGate(name);
      expect(await gitOk(env, dir, "rev-parse", "HEAD")).toBe(await upstreamRef(name, "HEAD"));
      expect(await gitOk(env, dir, "symbolic-ref", "--short", "HEAD")).toBe(branch);
    }
  });

  it("shows an out-of-band upstream commit on the next ls-remote and fetch", async () => {
    const dir = await cloneViaGate("main-default");
    const sha = await commitToUpstream(env, bare("main-default"), "main", "oob.txt", "new upstream work\n");
    const listed = await gitOk(env, root, "ls-remote", gate.url("main-default"), "refs/heads/main");
    expect(listed.split(/\s+/)[0]).toBe(sha);
    await gitOk(env, dir, "pull", "--quiet", "--ff-only");
    expect(await gitOk(env, dir, "rev-parse", "HEAD")).toBe(sha);
  });

  it("fails the fetch when the upstream is unreachable instead of serving the mirror", async () => {
    const r = await git(env, root, "ls-remote", gate.url("down"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("cannot fetch from upstream down");
  });

  it("refuses an ssh upstream without a pinned host key, and one whose pinned key does not match", async () => {
    const nopin = await git(env, root, "ls-remote", gate.url("nopin"));
    expect(nopin.code).not.toBe(0);
    expect(nopin.stderr).toContain("without a pinned host key");
    const wrong = await git(env, root, "ls-remote", gate.url("wrongpin"));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain("cannot fetch from upstream wrongpin");
    const gateLog = await logContaining(gate, "Host key verification failed");
    expect(gateLog).toContain("Host key verification failed");
    expect(await logContaining(gate, "git-gate: nopin: upstream nopin")).toContain("git-gate: nopin: upstream nopin is an ssh upstream without a pinned host key");
  });

  it("hands the https token to git through the credential helper, not the config", async () => {
    const mirror = path.join(gate.mirrors, "https-app.git");
    const filled = await gitWithInput(env, mirror, "protocol=https\nhost=git.example.invalid\npath=team/app.git\n\n", "credential", "fill");
    expect(filled.code).toBe(0);
    expect(filled.stdout).toContain("username=bot\n");
    expect(filled.stdout).toContain(`password=${TOKEN}\n`);
    expect(await readFile(path.join(mirror, "config"), "utf8")).not.toContain(TOKEN);
  });
});

describe("push through the gate", () => {
  it("forwards a clean push (text and binary files) over ssh with the gate's key", async () => {
    const dir = await cloneViaGate("app");
    await writeFile(path.join(dir, "logo.bin"), Buffer.from([0, 1, 2, 3, 255, 0, 7]));
    const sha = await commitFile(dir, "src/feature.ts", "export const feature = () => 42;\n");
    const push = await git(env, dir, "push", "origin", "main");
    expect(push.stderr).not.toContain("rejected");
    expect(push.code).toBe(0);
    expect(await upstreamRef("app", "refs/heads/main")).toBe(sha);
  });

  it.each([
    ["an AWS secret key", "config/aws.ini", AWS_LINE, "@secretlint/secretlint-rule-aws"],
    ["a private key", "deploy/id_rsa", PRIVATE_KEY, "@secretlint/secretlint-rule-privatekey"],
    ["a known secret value (base64)", "notes.md", `token: ${Buffer.from(TOKEN).toString("base64")}\n`, "git.https-app.credential"],
    ["a known secret value in a binary file", "blob.bin", Buffer.concat([Buffer.from([0, 0, 1]), Buffer.from(TOKEN), Buffer.from([0])]), "git.https-app.credential"],
  ])("rejects a push adding %s and leaves the upstream unchanged", async (_what, file, content, expected) => {
    const before = await upstreamRef("app", "refs/heads/main");
    const dir = await cloneViaGate("app");
    await commitFile(dir, file, content);
    await commitFile(dir, "later.txt", "an innocent commit on top\n");
    const push = await git(env, dir, "push", "origin", "main", "HEAD:refs/heads/feature-x");
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain("secrets found in the pushed commits");
    expect(push.stderr).toContain(file);
    expect(push.stderr).toContain(expected);
    expect(push.stderr).not.toContain(TOKEN);
    expect(push.stderr).not.toContain("Tz8rJq3vXb9LmN2pQw7eRt5yUi1oPa4sDf6gHj0k");
    expect(await upstreamRef("app", "refs/heads/main")).toBe(before);
    expect((await git(env, bare("app"), "rev-parse", "--verify", "refs/heads/feature-x")).code).not.toBe(0);
  });

  it("scans only what the upstream does not have: a new branch on top of old history passes", async () => {
    // The upstream already holds a finding (committed out of band); pushing on top of it is fine.
    await commitToUpstream(env, bare("app"), "main", "legacy.ini", AWS_LINE);
    const dir = await cloneViaGate("app");
    await gitOk(env, dir, "checkout", "--quiet", "-b", "topic");
    const sha = await commitFile(dir, "topic.txt", "topic work\n");
    const push = await git(env, dir, "push", "origin", "topic");
    expect(push.stderr).not.toContain("rejected");
    expect(await upstreamRef("app", "refs/heads/topic")).toBe(sha);
  });

  it("rejects a force push and a deletion of a protected branch, allows them elsewhere", async () => {
    const before = await upstreamRef("app", "refs/heads/main");
    const dir = await cloneViaGate("app");
    await gitOk(env, dir, "reset", "--quiet", "--hard", "HEAD~1");
    await commitFile(dir, "rewrite.txt", "rewritten history\n");
    const force = await git(env, dir, "push", "--force", "origin", "main");
    expect(force.code).not.toBe(0);
    expect(force.stderr).toContain("refs/heads/main is a protected branch: force push");
    const del = await git(env, dir, "push", "origin", ":main");
    expect(del.code).not.toBe(0);
    expect(del.stderr).toContain("cannot be deleted");
    expect(await upstreamRef("app", "refs/heads/main")).toBe(before);

    // An unprotected branch may be rewritten and deleted.
    await gitOk(env, dir, "push", "--quiet", "origin", "HEAD:refs/heads/scratch");
    await gitOk(env, dir, "commit", "--quiet", "--amend", "-m", "amended");
    await gitOk(env, dir, "push", "--quiet", "--force", "origin", "HEAD:refs/heads/scratch");
    expect(await upstreamRef("app", "refs/heads/scratch")).toBe(await gitOk(env, dir, "rev-parse", "HEAD"));
    await gitOk(env, dir, "push", "--quiet", "origin", ":scratch");
    expect((await git(env, bare("app"), "rev-parse", "--verify", "refs/heads/scratch")).code).not.toBe(0);
  });

  it("scans annotated tag messages and ref names too", async () => {
    const dir = await cloneViaGate("app");
    await gitOk(env, dir, "tag", "-a", "v1.0.0", "-m", "release 1.0.0");
    await gitOk(env, dir, "push", "--quiet", "origin", "v1.0.0");
    expect(await upstreamRef("app", "refs/tags/v1.0.0")).toBe(await gitOk(env, dir, "rev-parse", "v1.0.0"));

    await gitOk(env, dir, "tag", "-a", "v1.0.1", "-m", `release notes, deploy token ${TOKEN}`);
    const tag = await git(env, dir, "push", "origin", "v1.0.1");
    expect(tag.code).not.toBe(0);
    expect(tag.stderr).toContain("(tag ");
    expect((await git(env, bare("app"), "rev-parse", "--verify", "refs/tags/v1.0.1")).code).not.toBe(0);

    await commitFile(dir, "branch.txt", "fine\n");
    const named = await git(env, dir, "push", "origin", `HEAD:refs/heads/leak-${TOKEN}`);
    expect(named.code).not.toBe(0);
    expect(named.stderr).toContain("(ref names)");
    const fromGate = named.stderr.split("\n").filter((line) => line.startsWith("remote:"));
    expect(fromGate.join("\n")).not.toContain(TOKEN);
  });

  it("refuses a refs/replace/* push, and scans the real commit a replace ref would hide", async () => {
    const before = await upstreamRef("main-default", "refs/heads/main");
    const dir = await cloneViaGate("main-default");
    const clean = await commitFile(dir, "clean.txt", "nothing here\n");
    await gitOk(env, dir, "reset", "--quiet", "--hard", before);
    const dirty = await commitFile(dir, "config/aws.ini", AWS_LINE);
    await gitOk(env, dir, "replace", dirty, clean);
    const replace = await git(env, dir, "push", "origin", `refs/replace/${dirty}`);
    expect(replace.code).not.toBe(0);
    expect(replace.stderr).toContain(`refs/replace/${dirty} is a replace ref`);
    expect((await git(env, bare("main-default"), "rev-parse", "--verify", `refs/replace/${dirty}`)).code).not.toBe(0);
    // An upstream may hold replace refs of its own (the mirror copies them): the scan still
    // reads the real commit.
    await gitOk(env, dir, "push", "--quiet", "origin", `${clean}:refs/heads/clean-base`);
    await gitOk(env, bare("main-default"), "update-ref", `refs/replace/${dirty}`, clean);
    await gitOk(env, root, "ls-remote", gate.url("main-default"));
    expect(await gitOk(env, path.join(gate.mirrors, "main-default.git"), "rev-parse", `refs/replace/${dirty}`)).toBe(clean);
    try {
      const push = await git(env, dir, "push", "origin", "HEAD:refs/heads/replaced");
      expect(push.code).not.toBe(0);
      expect(push.stderr).toContain("config/aws.ini");
      expect((await git(env, bare("main-default"), "rev-parse", "--verify", "refs/heads/replaced")).code).not.toBe(0);
    } finally {
      await gitOk(env, bare("main-default"), "update-ref", "-d", `refs/replace/${dirty}`);
      await gitOk(env, bare("main-default"), "update-ref", "-d", "refs/heads/clean-base");
      await gitOk(env, root, "ls-remote", gate.url("main-default"));
    }
  });

  it("scans a blob a tag points at and a tree an annotated tag points at", async () => {
    const dir = await cloneViaGate("main-default");
    const blob = (await gitWithInput(env, dir, AWS_LINE, "hash-object", "-w", "--stdin")).stdout.trim();
    await gitOk(env, dir, "tag", "blob-leak", blob);
    const blobPush = await git(env, dir, "push", "origin", "refs/tags/blob-leak");
    expect(blobPush.code).not.toBe(0);
    expect(blobPush.stderr).toContain("@secretlint/secretlint-rule-aws");
    expect((await git(env, bare("main-default"), "rev-parse", "--verify", "refs/tags/blob-leak")).code).not.toBe(0);

    const inner = (await gitWithInput(env, dir, `deploy token ${TOKEN}\n`, "hash-object", "-w", "--stdin")).stdout.trim();
    const tree = (await gitWithInput(env, dir, `100644 blob ${inner}\tdeploy.txt\n`, "mktree")).stdout.trim();
    await gitOk(env, dir, "tag", "-a", "-m", "just a tree", "tree-leak", tree);
    const treePush = await git(env, dir, "push", "origin", "refs/tags/tree-leak");
    expect(treePush.code).not.toBe(0);
    expect(treePush.stderr).toContain("deploy.txt");
    expect(treePush.stderr).toContain("git.https-app.credential");
    expect(treePush.stderr).not.toContain(TOKEN);
    expect((await git(env, bare("main-default"), "rev-parse", "--verify", "refs/tags/tree-leak")).code).not.toBe(0);
  });

  it("scans notes pushed under refs/notes/*", async () => {
    const dir = await cloneViaGate("main-default");
    await gitOk(env, dir, "notes", "add", "-m", `deploy token ${TOKEN}`, "HEAD");
    const push = await git(env, dir, "push", "origin", "refs/notes/commits");
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain("git.https-app.credential");
    expect((await git(env, bare("main-default"), "rev-parse", "--verify", "refs/notes/commits")).code).not.toBe(0);
  });

  it.each([
    ["UTF-16LE with a BOM", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`token = ${TOKEN}\n`, "utf16le")])],
    ["UTF-16BE without a BOM", Buffer.from(`token = ${TOKEN}\n`, "utf16le").swap16()],
  ])("rejects a known secret value in %s text", async (_what, content) => {
    const before = await upstreamRef("main-default", "refs/heads/main");
    const dir = await cloneViaGate("main-default");
    await commitFile(dir, "notes-utf16.txt", content);
    const push = await git(env, dir, "push", "origin", "main");
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain("notes-utf16.txt");
    expect(push.stderr).toContain("git.https-app.credential");
    expect(await upstreamRef("main-default", "refs/heads/main")).toBe(before);
  });

  it("only updates the refs the upstream allows", async () => {
    const dir = await cloneViaGate("master-default");
    const sha = await commitFile(dir, "agent.txt", "agent work\n");
    const outside = await git(env, dir, "push", "origin", "master");
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toContain("refs/heads/master is outside the refs this bottle may push (refs/heads/agent/*)");
    await gitOk(env, dir, "push", "--quiet", "origin", "HEAD:refs/heads/agent/task-1");
    expect(await upstreamRef("master-default", "refs/heads/agent/task-1")).toBe(sha);
  });

  it("fails closed when the scanner cannot run (and does not call that a finding)", async () => {
    // node exits 1 for a missing script, the same status as "findings".
    const broken = await startGate(path.join(root, "gate-broken"), [upstreamPlan("main-default", `git://127.0.0.1:${upstreamDaemon.port}/main-default.git`)], env, {}, {}, [
      process.execPath,
      path.join(root, "no-such-scanner.js"),
    ]);
    try {
      const before = await upstreamRef("main-default", "refs/heads/main");
      const dir = path.join(root, "work", "broken-scanner");
      await gitOk(env, root, "clone", "--quiet", broken.url("main-default"), dir);
      await commitFile(dir, "x.txt", "x\n");
      const push = await git(env, dir, "push", "origin", "main");
      expect(push.code).not.toBe(0);
      expect(push.stderr).toContain("the secret scanner");
      expect(push.stderr).not.toContain("secrets found");
      expect(await upstreamRef("main-default", "refs/heads/main")).toBe(before);
    } finally {
      await broken.stop();
    }
  });

  it("refuses to forward to an ssh upstream without a pinned key or with the wrong one", async () => {
    // Clone the upstream directly (the gate will not fetch it), then push through the gate.
    for (const name of ["nopin", "wrongpin"]) {
      const before = await upstreamRef(name, "refs/heads/main");
      const dir = path.join(root, "work", `${name}-direct`);
      await gitOk(env, root, "clone", "--quiet", bare(name), dir);
      await commitFile(dir, "x.txt", "x\n");
      const push = await git(env, dir, "push", gate.url(name), "main");
      expect(push.code).not.toBe(0);
      expect(push.stderr).toMatch(name === "nopin" ? /without a pinned host key/ : /upstream did not accept the push/);
      expect(await upstreamRef(name, "refs/heads/main")).toBe(before);
    }
  });

  it("logs every push and fetch decision as JSON lines: refs, commit range, findings by position and rule, no secret values", async () => {
    const log = async () =>
      (await readFile(path.join(gate.root, "state/audit/git-gate.jsonl"), "utf8").catch(() => ""))
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { id: string; op: string; repo: string; decision: string; reason?: string; refs?: Array<{ ref: string; old: string; new: string }>; findings?: Array<{ at: string; rule: string }> });
    const before = (await log()).length;
    const dir = await cloneViaGate("app");
    await commitFile(dir, "config/aws2.ini", AWS_LINE);
    expect((await git(env, dir, "push", "origin", "HEAD:refs/heads/audit-x")).code).not.toBe(0);
    await gitOk(env, dir, "reset", "--quiet", "--hard", "HEAD~1");
    const sha = await commitFile(dir, "clean.txt", "clean\n");
    expect((await git(env, dir, "push", "origin", "HEAD:refs/heads/audit-x")).code).toBe(0);

    const records = (await log()).slice(before);
    const fetch = records.find((r) => r.op === "fetch");
    expect(fetch).toMatchObject({ repo: "app", decision: "allow" });
    const pushes = records.filter((r) => r.op === "push");
    expect(pushes.map((r) => r.decision)).toEqual(["reject", "accept"]);
    expect(pushes[0]!.reason).toContain("secrets found");
    expect(pushes[0]!.findings).toEqual([{ at: "config/aws2.ini:1:1", rule: "@secretlint/secretlint-rule-aws" }]);
    expect(pushes[1]!.refs).toEqual([{ ref: "refs/heads/audit-x", old: "0".repeat(40), new: sha }]);
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
    const text = JSON.stringify(records);
    expect(text).not.toContain("Tz8rJq3vXb9LmN2pQw7eRt5yUi1oPa4sDf6gHj0k");
    // a refused fetch is a decision too
    const refused = await git(env, root, "ls-remote", gate.url("nopin"));
    expect(refused.code).not.toBe(0);
    expect((await log()).at(-1)).toMatchObject({ op: "fetch", repo: "nopin", decision: "deny" });
  });
});
