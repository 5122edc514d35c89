#!/usr/bin/env node
// Benchmark of the git gate, baseline and ours in the same run, loopback only:
//   1. clone of a generated repository (~5k commits, ~50 MB) straight from the upstream
//      git daemon vs through the gate (rendered scripts, real git daemon + hooks);
//   2. fetch of one new commit, direct vs through the gate;
//   3. secret-scan throughput on a ~100 MB push: bottle-scan (files and git range) vs the
//      secretlint CLI (recommended preset) over the same files.
// Sizes: BENCH_COMMITS (5000), BENCH_REPO_MB (50), BENCH_SCAN_MB (100), BENCH_RUNS (3).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, statSync, readdirSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const COMMITS = Number(process.env.BENCH_COMMITS ?? 5000);
const REPO_MB = Number(process.env.BENCH_REPO_MB ?? 50);
const SCAN_MB = Number(process.env.BENCH_SCAN_MB ?? 100);
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));

const renderDist = path.join(repoRoot, "packages/git-gate-render/dist/index.js");
const scanBin = path.join(repoRoot, "packages/scan/dist/bin.js");
const secretlintBin = path.join(repoRoot, "node_modules/.bin/secretlint");

const root = mkdtempSync(path.join(tmpdir(), "bottle-bench-git-gate-"));
const home = path.join(root, "home");
mkdirSync(home);
const env = {
  PATH: process.env.PATH,
  HOME: home,
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "Bench",
  GIT_AUTHOR_EMAIL: "bench@example.invalid",
  GIT_COMMITTER_NAME: "Bench",
  GIT_COMMITTER_EMAIL: "bench@example.invalid",
  GIT_TERMINAL_PROMPT: "0",
  LANG: "C",
};
const children = [];

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

function git(cwd, ...args) {
  return execFileSync("git", args, { cwd, env, maxBuffer: 1 << 30 }).toString().trim();
}

function timed(fn) {
  const start = process.hrtime.bigint();
  const value = fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, child) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`daemon exited before listening on ${port}`);
    const ok = await new Promise((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startDaemon(command, args, port) {
  const child = spawn(command, args, { env: { ...env, TMPDIR: root }, stdio: ["ignore", "ignore", "pipe"], detached: true });
  let stderr = "";
  child.stderr.on("data", (d) => {
    if (stderr.length < 100_000) stderr += d;
  });
  children.push(child);
  await waitForPort(port, child);
  return { port, stderr: () => stderr };
}

function stopAll() {
  for (const child of children) {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        /* already gone */
      }
    }
  }
}

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = "const let return function async await import export from value result error request response handler config options state index count items list map filter reduce push length string number object array promise resolve reject throw catch finally class extends constructor this super static get set new typeof instanceof".split(" ");

/** Code-like text with some random hex so it compresses about as much as real source. */
function sourceText(random, bytes) {
  const lines = [];
  let size = 0;
  while (size < bytes) {
    const w = () => WORDS[Math.floor(random() * WORDS.length)];
    const hex = Math.floor(random() * 0xffffffff).toString(16).padStart(8, "0") + Math.floor(random() * 0xffffffff).toString(16).padStart(8, "0");
    const line = `  ${w()} ${w()}_${hex.slice(0, 6)} = ${w()}(${w()}, "${hex}", ${Math.floor(random() * 100000)}); // ${w()} ${w()} ${w()}`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join("\n")}\n`;
}

/** Feeds a fast-import stream to git; `produce(write)` writes the commands. */
async function fastImport(gitDir, produce) {
  const child = spawn("git", ["--git-dir", gitDir, "fast-import", "--quiet", "--done"], { env, stdio: ["pipe", "inherit", "inherit"] });
  const done = new Promise((resolve, reject) => child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`fast-import exited ${code}`)))));
  const write = async (chunk) => {
    if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once("drain", r));
  };
  await produce(write);
  await write("done\n");
  child.stdin.end();
  await done;
}

function dataCommand(content) {
  const buf = Buffer.from(content);
  return Buffer.concat([Buffer.from(`data ${buf.length}\n`), buf, Buffer.from("\n")]);
}

async function generateRepo(bare) {
  git(root, "init", "--quiet", "--bare", "--initial-branch=main", bare);
  const random = rng(42);
  const perCommit = Math.round((REPO_MB * 2.2 * 1024 * 1024) / COMMITS);
  const when = 1_700_000_000;
  await fastImport(bare, async (write) => {
    for (let i = 0; i < COMMITS; i++) {
      let cmd = `commit refs/heads/main\nmark :${i + 1}\ncommitter Bench <bench@example.invalid> ${when + i * 60} +0000\n`;
      await write(cmd + dataCommand(`change ${i}\n`).toString());
      if (i > 0) await write(`from :${i}\n`);
      const file = `src/mod${i % 40}/file${i % 400}.ts`;
      await write(`M 100644 inline ${file}\n`);
      await write(dataCommand(sourceText(random, perCommit)));
      await write("\n");
    }
  });
  git(bare, "repack", "-a", "-d", "-q", "--write-bitmap-index");
}

function dirSize(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? dirSize(p) : statSync(p).size;
  }
  return total;
}

async function main() {
  if (!existsSync(renderDist) || !existsSync(scanBin)) {
    log("building @bottle/git-gate-render and @bottle/scan");
    execFileSync("pnpm", ["turbo", "run", "build", "--filter", "@bottle/git-gate-render...", "--filter", "@bottle/scan..."], { cwd: repoRoot, stdio: "inherit" });
  }
  const { renderGitGate } = await import(renderDist);

  // Upstream repository and its git daemon.
  const upstreamDir = path.join(root, "upstream");
  mkdirSync(upstreamDir);
  const bare = path.join(upstreamDir, "bench.git");
  log(`generating ${COMMITS} commits (~${REPO_MB} MB packed) with git fast-import`);
  const gen = await (async () => {
    const start = Date.now();
    await generateRepo(bare);
    return (Date.now() - start) / 1000;
  })();
  const packBytes = dirSize(path.join(bare, "objects"));
  log(`generated in ${gen.toFixed(1)} s, objects ${(packBytes / 1e6).toFixed(1)} MB`);
  const upPort = await freePort();
  await startDaemon("git", ["daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", `--base-path=${upstreamDir}`, `--port=${upPort}`, "--listen=127.0.0.1", upstreamDir], upPort);

  // The gate, from its rendered scripts.
  const gateRoot = path.join(root, "gate");
  const gatePort = await freePort();
  const rendered = renderGitGate(
    [
      {
        name: "bench",
        url: `git://127.0.0.1:${upPort}/bench.git`,
        transport: "git",
        username: "x-access-token",
        protectedBranches: ["main"],
        allowedRefs: [],
        extraHosts: {},
        gateUrl: "git://git-gate/bench.git",
        insteadOf: [],
      },
    ],
    {
      configDir: path.join(gateRoot, "etc/git-gate"),
      secretsDir: path.join(gateRoot, "secrets/git"),
      secretsJson: path.join(gateRoot, "secrets/secrets.json"),
      mirrorsDir: path.join(gateRoot, "state/git"),
      upstreamCaFile: path.join(gateRoot, "etc/ca/upstream-ca.pem"),
      port: gatePort,
      listen: "127.0.0.1",
      scanner: [process.execPath, scanBin],
    },
  );
  for (const file of rendered.files) {
    mkdirSync(path.dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.content, { mode: file.mode });
  }
  await startDaemon("sh", [rendered.entrypoint], gatePort);
  const direct = `git://127.0.0.1:${upPort}/bench.git`;
  const viaGate = `git://127.0.0.1:${gatePort}/bench.git`;

  // 1. Clone.
  const clones = path.join(root, "clones");
  mkdirSync(clones);
  let n = 0;
  const cloneOnce = (url) => {
    const dir = path.join(clones, `c${n++}`);
    const t = timed(() => git(root, "clone", "--quiet", "--no-checkout", url, dir)).seconds;
    return { dir, t };
  };
  log("cold clone through the gate (the gate mirrors the upstream first)");
  const cold = cloneOnce(viaGate);
  const cloneDirect = [];
  const cloneGate = [];
  for (let i = 0; i < RUNS; i++) {
    const d = cloneOnce(direct);
    cloneDirect.push(d.t);
    const g = cloneOnce(viaGate);
    cloneGate.push(g.t);
    if (i < RUNS - 1) {
      rmSync(d.dir, { recursive: true, force: true });
      rmSync(g.dir, { recursive: true, force: true });
    }
  }
  log(`clone direct ${cloneDirect.map((t) => t.toFixed(2)).join(" ")} s, via gate ${cloneGate.map((t) => t.toFixed(2)).join(" ")} s`);
  const directClone = path.join(clones, `c${n - 2}`);
  const gateClone = path.join(clones, `c${n - 1}`);

  // 2. Fetch of one new commit.
  const writer = path.join(root, "writer");
  git(root, "clone", "--quiet", bare, writer);
  const fetchDirect = [];
  const fetchGate = [];
  for (let i = 0; i < Math.max(RUNS, 5); i++) {
    writeFileSync(path.join(writer, "NEWS.md"), `news ${i}\n`);
    git(writer, "add", "-A");
    git(writer, "commit", "--quiet", "-m", `news ${i}`);
    git(writer, "push", "--quiet", "origin", "main");
    const sha = git(writer, "rev-parse", "HEAD");
    fetchDirect.push(timed(() => git(directClone, "fetch", "--quiet", "origin")).seconds);
    fetchGate.push(timed(() => git(gateClone, "fetch", "--quiet", "origin")).seconds);
    if (git(gateClone, "rev-parse", "origin/main") !== sha) throw new Error("the gate did not serve the new commit");
  }
  log(`fetch direct ${fetchDirect.map((t) => t.toFixed(3)).join(" ")} s, via gate ${fetchGate.map((t) => t.toFixed(3)).join(" ")} s`);

  // 3. Scan throughput on a ~100 MB push: the same files for every scanner.
  log(`generating a ~${SCAN_MB} MB push`);
  const scanFilesDir = path.join(root, "push-files");
  const random = rng(7);
  const files = [];
  let scanBytes = 0;
  for (let i = 0; scanBytes < SCAN_MB * 1024 * 1024; i++) {
    // Sizes of ordinary source files: 8–90 KB.
    const content = sourceText(random, 8 * 1024 + Math.floor(random() * 82 * 1024));
    const rel = `pkg${i % 20}/src/part${i}.ts`;
    files.push({ rel, content });
    scanBytes += Buffer.byteLength(content);
    mkdirSync(path.join(scanFilesDir, path.dirname(rel)), { recursive: true });
    writeFileSync(path.join(scanFilesDir, rel), content);
  }
  const mainTip = git(bare, "rev-parse", "refs/heads/main");
  await fastImport(bare, async (write) => {
    await write(`commit refs/heads/scan-push\ncommitter Bench <bench@example.invalid> 1800000000 +0000\n`);
    await write(dataCommand("a large push\n"));
    await write(`from ${mainTip}\n`);
    for (const f of files) {
      await write(`M 100644 inline push/${f.rel}\n`);
      await write(dataCommand(f.content));
    }
    await write("\n");
  });
  const mb = scanBytes / (1024 * 1024);
  log(`${files.length} files, ${mb.toFixed(1)} MB`);

  const ours = timed(() => execFileSync(process.execPath, [scanBin, "files", "--json", scanFilesDir], { env, maxBuffer: 1 << 28 })).seconds;
  const oursGit = timed(() =>
    execFileSync(process.execPath, [scanBin, "git", "--json", "--repo", bare, "--", "refs/heads/scan-push", "--not", "refs/heads/main"], { env, maxBuffer: 1 << 28 }),
  ).seconds;
  const rc = path.join(root, ".secretlintrc.json");
  writeFileSync(rc, JSON.stringify({ rules: [{ id: "@secretlint/secretlint-rule-preset-recommend" }] }));
  log("secretlint CLI over the same files (this is the slow part)");
  const cli = timed(() => {
    try {
      execFileSync(secretlintBin, ["--secretlintrc", rc, "--format", "json", `${scanFilesDir}/**/*`], { cwd: root, env, maxBuffer: 1 << 28 });
    } catch (error) {
      if (error.status !== 1) throw error;
    }
  }).seconds;

  const mdClone = median(cloneDirect);
  const mgClone = median(cloneGate);
  const mdFetch = median(fetchDirect);
  const mgFetch = median(fetchGate);
  const rows = [
    ["| measure | baseline | bottle | ratio |", "| --- | --- | --- | --- |"],
    [`| clone ${COMMITS} commits, ${(packBytes / 1e6).toFixed(0)} MB (median of ${RUNS}) | direct ${mdClone.toFixed(2)} s | via gate ${mgClone.toFixed(2)} s | ${(mgClone / mdClone).toFixed(2)}× |`],
    [`| first clone via gate (gate mirrors the upstream first) | direct ${mdClone.toFixed(2)} s | ${cold.t.toFixed(2)} s | ${(cold.t / mdClone).toFixed(2)}× |`],
    [`| fetch 1 new commit (median of ${fetchDirect.length}) | direct ${(mdFetch * 1000).toFixed(0)} ms | via gate ${(mgFetch * 1000).toFixed(0)} ms | ${(mgFetch / mdFetch).toFixed(2)}× |`],
    [`| scan ${mb.toFixed(0)} MB in ${files.length} files | secretlint CLI ${cli.toFixed(1)} s = ${(mb / cli).toFixed(2)} MB/s | bottle-scan files ${ours.toFixed(1)} s = ${(mb / ours).toFixed(1)} MB/s | ${(cli / ours).toFixed(1)}× faster |`],
    [`| scan the same push as a git range | secretlint CLI ${(mb / cli).toFixed(2)} MB/s | bottle-scan git ${oursGit.toFixed(1)} s = ${(mb / oursGit).toFixed(1)} MB/s | ${(cli / oursGit).toFixed(1)}× faster |`],
  ];
  process.stdout.write(`\n## git gate benchmark\n\n${rows.flat().join("\n")}\n\n`);
  process.stdout.write(
    `raw: clone direct [${cloneDirect.map((t) => t.toFixed(3))}] s, via gate [${cloneGate.map((t) => t.toFixed(3))}] s, cold ${cold.t.toFixed(3)} s; ` +
      `fetch direct [${fetchDirect.map((t) => t.toFixed(3))}] s, via gate [${fetchGate.map((t) => t.toFixed(3))}] s; ` +
      `scan ${scanBytes} bytes: cli ${cli.toFixed(2)} s, files ${ours.toFixed(2)} s, git ${oursGit.toFixed(2)} s; node ${process.version}, git ${git(root, "--version")}\n`,
  );
}

main()
  .catch((error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    stopAll();
    rmSync(root, { recursive: true, force: true });
  });
