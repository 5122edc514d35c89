#!/usr/bin/env node
// Egress benchmark: direct vs bottle-egress vs mitmdump (same interception + header
// injection via addon.py), one loopback HTTPS upstream, one Node keep-alive client.
// Usage: pnpm bench:egress   (BENCH_SECONDS=5 per small cell by default)
//   BENCH_QUICK=1         a quick run (~2 min): fewer requests per Claude-shaped cell, 1 s small cells
//   BENCH_SUITE=claude    only the Claude-shaped cells (or `small`; default both)
//   BENCH_DRIFT=10000     requests in the drift cell (default 2000; 300 quick)
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import tls from "node:tls";
import { fileURLToPath, pathToFileURL } from "node:url";
import { conversationOfSize, runDriftCell, runPostCell, runSessionCell } from "./claude.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const QUICK = process.env.BENCH_QUICK === "1";
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 1 : 5));
const SUITES = (process.env.BENCH_SUITE ?? "small,claude").split(",");
const DRIFT = Number(process.env.BENCH_DRIFT ?? (QUICK ? 300 : 2000));
const WARMUP_SECONDS = Math.min(1, SECONDS);
const SECRET = "sk-bench-0123456789abcdef0123456789abcdef";
const children = [];

function ensureBuilt() {
  const needed = ["packages/ca/dist/index.js", "packages/egress/dist/bin.js"];
  if (needed.every((p) => existsSync(join(root, p)))) return;
  execFileSync("pnpm", ["turbo", "run", "build", "--filter", "@bottle/egress..."], { cwd: root, stdio: "inherit" });
}

function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
  children.push(child);
  return child;
}

function waitForLine(stream, re) {
  return new Promise((resolve, reject) => {
    let buf = "";
    const onData = (d) => {
      buf += d;
      const m = re.exec(buf);
      if (m) {
        stream.off("data", onData);
        resolve(m);
      }
    };
    stream.setEncoding("utf8");
    stream.on("data", onData);
    stream.once("end", () => reject(new Error(`stream ended before ${re}: ${buf}`)));
  });
}

async function freePort() {
  const s = net.createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address();
  s.close();
  return port;
}

async function waitForPort(port, check = () => true) {
  for (let i = 0; i < 400; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, "127.0.0.1", () => (s.destroy(), r(true)));
      s.on("error", () => r(false));
    });
    if (ok && check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never opened`);
}

/** https.Agent tunnelling every connection through an HTTP proxy with CONNECT. */
class ConnectAgent extends https.Agent {
  constructor(proxyPort, options) {
    super(options);
    this.proxyPort = proxyPort;
  }
  createConnection(options, cb) {
    const req = http.request({ host: "127.0.0.1", port: this.proxyPort, method: "CONNECT", path: `${options.host}:${options.port}`, agent: false });
    req.once("connect", (res, socket) => {
      if (res.statusCode !== 200) return cb(new Error(`CONNECT ${res.statusCode}`));
      socket.setNoDelay(true);
      cb(null, tls.connect({ ...options, socket, servername: net.isIP(options.host) ? undefined : options.host }));
    });
    req.once("error", cb);
    req.end();
  }
}

function get(agent, port, path) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: "127.0.0.1", port, path, agent }, (res) => {
      let bytes = 0;
      res.on("data", (c) => (bytes += c.length));
      res.on("end", () => (res.statusCode === 200 ? resolve({ bytes, saw: res.headers["x-saw-key"] }) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

async function runCell(agent, port, path, concurrency, seconds) {
  const latencies = [];
  let bytes = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        bytes += (await get(agent, port, path)).bytes;
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { count: latencies.length, rps: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), mibps: bytes / 1048576 / elapsed, errors };
}

/** CPU seconds (user + system) a process has used so far; robust to a busy machine. */
function cpuSeconds(pid) {
  if (!pid) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

function peakRssMiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function main() {
  ensureBuilt();
  const ca = await import(pathToFileURL(join(root, "packages/ca/dist/index.js")).href);
  const dir = await mkdtemp(join(os.tmpdir(), "bench-egress-"));
  try {
    // Upstream with its own CA; both proxies trust it as their upstream CA.
    const upCaPair = await ca.createBottleCa({ commonName: "bench upstream CA" });
    const upLeaf = await ca.mintLeafCertificate(await ca.loadBottleCa(upCaPair), "127.0.0.1");
    await writeFile(join(dir, "up-ca.pem"), upCaPair.certPem);
    await writeFile(join(dir, "up.crt"), upLeaf.certPem);
    await writeFile(join(dir, "up.key"), upLeaf.keyPem);
    const upstream = start(process.execPath, [join(here, "upstream.mjs"), join(dir, "up.crt"), join(dir, "up.key"), SECRET]);
    const upPort = Number((await waitForLine(upstream.stdout, /(\d+)\n/))[1]);

    // bottle-egress
    const bottleCa = await ca.createBottleCa({ commonName: "bench bottle CA" });
    await ca.writeBottleCa(join(dir, "ca"), bottleCa);
    await writeFile(join(dir, "secrets.json"), JSON.stringify({ "bench.key": SECRET }), { mode: 0o600 });
    const routes = (scan) => ({
      version: 1,
      routes: [
        // The model route as a bottle with model credentials renders it: scan on, findings redacted.
        { id: "model", host: "127.0.0.1", ports: [upPort], methods: ["POST"], paths: ["/v1/"], inject: [{ header: "x-api-key", secret: "bench.key", prefix: "" }], passthrough: false, scan, onFinding: "redact" },
        { id: "bench", host: "127.0.0.1", ports: [upPort], methods: ["GET"], paths: ["/"], inject: [{ header: "x-api-key", secret: "bench.key", prefix: "" }], passthrough: false, scan, onFinding: "block" },
      ],
    });
    await writeFile(join(dir, "routes.json"), JSON.stringify(routes(true)));
    await writeFile(join(dir, "routes-noscan.json"), JSON.stringify(routes(false)));
    const egressNodeArgs = (process.env.BENCH_EGRESS_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const startEgress = (routesFile, audit) =>
      start(process.execPath, [
        ...egressNodeArgs,
        join(root, "packages/egress/dist/bin.js"),
        "--listen", "127.0.0.1:0",
        "--routes", join(dir, routesFile),
        "--secrets", join(dir, "secrets.json"),
        "--ca-cert", join(dir, "ca", "ca.crt"),
        "--ca-key", join(dir, "ca", "ca.key"),
        "--upstream-ca", join(dir, "up-ca.pem"),
        "--audit", join(dir, "audit", audit),
      ]);
    const egress = startEgress("routes.json", "egress.jsonl");
    const egressNoScan = startEgress("routes-noscan.json", "egress-noscan.jsonl");
    const egressNoScanPort = Number((await waitForLine(egressNoScan.stderr, /listening on [^\n]*:(\d+)/))[1]);
    const egressPort = Number((await waitForLine(egress.stderr, /listening on [^\n]*:(\d+)/))[1]);

    // mitmdump with the same policy + injection (addon.py)
    const mitmPort = await freePort();
    const confdir = join(dir, "mitm");
    mkdirSync(confdir);
    const mitm = start(
      "mitmdump",
      ["-q", "--listen-host", "127.0.0.1", "--listen-port", String(mitmPort), "--set", `confdir=${confdir}`,
        "--set", `ssl_verify_upstream_trusted_ca=${join(dir, "up-ca.pem")}`, "--set", "stream_large_bodies=64m", "-s", join(here, "addon.py")],
      { env: { ...process.env, BENCH_SECRET: SECRET } },
    );
    mitm.stderr.resume();
    mitm.stdout.resume();
    await waitForPort(mitmPort, () => existsSync(join(confdir, "mitmproxy-ca-cert.pem")));

    const targets = [
      { name: "direct", agent: (o) => new https.Agent({ ...o, ca: [upCaPair.certPem] }), pid: null },
      { name: "bottle-egress", agent: (o) => new ConnectAgent(egressPort, { ...o, ca: [bottleCa.certPem] }), pid: egress.pid },
      { name: "mitmdump", agent: (o) => new ConnectAgent(mitmPort, { ...o, ca: [readFileSync(join(confdir, "mitmproxy-ca-cert.pem"), "utf8")] }), pid: mitm.pid },
    ];
    const claudeTargets = [
      targets[0],
      targets[1],
      { name: "egress, scan off", agent: (o) => new ConnectAgent(egressNoScanPort, { ...o, ca: [bottleCa.certPem] }), pid: egressNoScan.pid },
      targets[2],
    ];

    // Sanity: both proxies inject the credential; direct does not.
    for (const t of targets) {
      const a = t.agent({ keepAlive: true });
      t.injects = (await get(a, upPort, "/1k")).saw === "1";
      a.destroy();
    }

    const cells = [
      { label: "1 KiB, c=1", path: "/1k", c: 1 },
      { label: "1 KiB, c=16", path: "/1k", c: 16 },
      { label: "1 KiB, c=64", path: "/1k", c: 64 },
      { label: "10 MiB, c=1", path: "/10m", c: 1 },
    ];
    const results = {};
    // BENCH_CELLS="10 MiB" (substring of a cell label) narrows a run while investigating.
    const only = process.env.BENCH_CELLS;
    for (const cell of !SUITES.includes("small") ? [] : only ? cells.filter((c) => c.label.includes(only)) : cells) {
      for (const t of targets) {
        const agent = t.agent({ keepAlive: true, maxSockets: cell.c, maxFreeSockets: cell.c });
        await runCell(agent, upPort, cell.path, cell.c, WARMUP_SECONDS);
        const cpu0 = cpuSeconds(t.pid);
        const up0 = cpuSeconds(upstream.pid);
        const client0 = process.cpuUsage();
        const r = await runCell(agent, upPort, cell.path, cell.c, SECONDS);
        const client = process.cpuUsage(client0);
        r.cpuPerReqUs = ((cpuSeconds(t.pid) - cpu0) / r.count) * 1e6;
        r.cpuPerMiB = ((cpuSeconds(t.pid) - cpu0) * 1000) / ((r.mibps * SECONDS) || NaN);
        // Where the CPU goes per MiB (for the 10 MiB cell: client, upstream and proxy share 2 cores).
        r.upCpuPerMiB = ((cpuSeconds(upstream.pid) - up0) * 1000) / ((r.mibps * SECONDS) || NaN);
        r.clientCpuPerMiB = ((client.user + client.system) / 1000) / ((r.mibps * SECONDS) || NaN);
        agent.destroy();
        (results[cell.label] ??= {})[t.name] = r;
        process.stderr.write(`${cell.label.padEnd(12)} ${t.name.padEnd(14)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ${r.mibps.toFixed(1)} MiB/s  proxy CPU ${fmtNum(r.cpuPerReqUs)} µs/req  errors ${r.errors}\n`);
      }
    }
    const claude = SUITES.includes("claude") ? await runClaudeSuite(claudeTargets, upPort, only) : undefined;
    const rss = Object.fromEntries(targets.filter((t) => t.pid).map((t) => [t.name, peakRssMiB(t.pid)]));

    const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");
    const lines = [];
    lines.push(`Run of ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC${QUICK ? " (BENCH_QUICK)" : ""}.`);
    lines.push(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, mitmproxy ${mitmVersion()}; ${SECONDS} s per cell after ${WARMUP_SECONDS} s warm-up; loopback; load average at start ${os.loadavg()[0].toFixed(1)}.`);
    lines.push("");
    lines.push("| cell | target | req/s | p50 ms | p99 ms | MiB/s | proxy CPU | vs direct (req/s) | egress vs mitmdump (req/s) | errors |");
    lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const cell of cells) {
      const row = results[cell.label];
      if (!row) continue;
      for (const t of targets) {
        const r = row[t.name];
        const vsDirect = t.name === "direct" ? "1.00×" : `${(r.rps / row.direct.rps).toFixed(2)}×`;
        const vsMitm = t.name === "bottle-egress" ? `${(r.rps / row.mitmdump.rps).toFixed(2)}×` : "";
        const cpu = t.name === "direct" ? "" : cell.path === "/10m" ? `${fmt(r.cpuPerMiB, 1)} ms/MiB` : `${fmt(r.cpuPerReqUs)} µs/req`;
        lines.push(`| ${cell.label} | ${t.name} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.mibps, 1)} | ${cpu} | ${vsDirect} | ${vsMitm} | ${r.errors} |`);
      }
    }
    const c1 = results["1 KiB, c=1"];
    lines.push("");
    if (c1) lines.push(`Added p50 at c=1: bottle-egress +${fmt(c1["bottle-egress"].p50 - c1.direct.p50, 2)} ms, mitmdump +${fmt(c1.mitmdump.p50 - c1.direct.p50, 2)} ms.`);
    const big = results["10 MiB, c=1"];
    if (big) {
      lines.push(`10 MiB response: bottle-egress ${fmt(big["bottle-egress"].mibps / big.direct.mibps, 2)}× direct, mitmdump ${fmt(big.mitmdump.mibps / big.direct.mibps, 2)}× direct.`);
      // CPU-bound ceiling when client, upstream and proxy share the machine's cores.
      const cores = os.cpus().length;
      const d = big.direct;
      const e = big["bottle-egress"];
      const directCeiling = 1000 / Math.max(d.clientCpuPerMiB, d.upCpuPerMiB, (d.clientCpuPerMiB + d.upCpuPerMiB) / cores);
      const egressCeiling = 1000 / Math.max(e.clientCpuPerMiB, e.upCpuPerMiB, e.cpuPerMiB, (e.clientCpuPerMiB + e.upCpuPerMiB + e.cpuPerMiB) / cores);
      lines.push(
        `CPU per MiB — direct: client ${fmt(d.clientCpuPerMiB, 2)} ms, upstream ${fmt(d.upCpuPerMiB, 2)} ms; through bottle-egress: client ${fmt(e.clientCpuPerMiB, 2)}, upstream ${fmt(e.upCpuPerMiB, 2)}, egress ${fmt(e.cpuPerMiB, 2)} ms. ` +
          `CPU-bound ceiling on ${cores} cores: direct ${fmt(directCeiling, 0)} MiB/s, through egress ${fmt(egressCeiling, 0)} MiB/s (${fmt(egressCeiling / directCeiling, 2)}×).`,
      );
    }
    if (claude) lines.push("", ...claude);
    lines.push(`Peak RSS: bottle-egress ${fmt(rss["bottle-egress"], 0)} MiB, mitmdump ${fmt(rss.mitmdump, 0)} MiB.`);
    lines.push(`Credential injected upstream: bottle-egress ${targets[1].injects ? "yes" : "NO"}, mitmdump ${targets[2].injects ? "yes" : "NO"} (direct ${targets[0].injects ? "yes?!" : "no, as expected"}).`);
    const table = lines.join("\n");
    process.stdout.write(table + "\n");
    mkdirSync(join(root, ".bench-out"), { recursive: true });
    writeFileSync(join(root, ".bench-out", "egress.md"), table + "\n");
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    await Promise.all(children.map((c) => (c.exitCode === null ? once(c, "exit") : null)));
    await rm(dir, { recursive: true, force: true });
  }
}

/** The Claude-shaped cells (issue 11); returns markdown lines. */
async function runClaudeSuite(targets, upPort, only) {
  const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");
  const scale = QUICK ? 0.2 : 1;
  const count = (n) => Math.max(5, Math.round(n * scale));
  const cells = [
    { label: "16 KiB, c=1", bytes: 16 * 1024, c: 1, rounds: count(200) },
    { label: "256 KiB, c=1", bytes: 256 * 1024, c: 1, rounds: count(100) },
    { label: "256 KiB, c=4", bytes: 256 * 1024, c: 4, rounds: count(40) },
    { label: "1 MiB, c=1", bytes: 1024 * 1024, c: 1, rounds: count(60) },
    { label: "1 MiB, c=4", bytes: 1024 * 1024, c: 4, rounds: count(20) },
    // Every request a conversation egress has never seen: what one full scan costs.
    { label: "1 MiB cold, c=1", bytes: 1024 * 1024, c: 1, rounds: count(20), cold: true },
  ];
  const post = {};
  const report = (label, name, r) =>
    process.stderr.write(`${label.padEnd(16)} ${name.padEnd(16)} TTFE p50 ${fmt(r.ttfeP50, 2)} p95 ${fmt(r.ttfeP95, 2)} ms  total p50 ${fmt(r.totalP50, 2)} ms  CPU ${fmt(r.cpuMsPerReq, 2)} ms/req  RSS ${fmt(r.rss, 0)} MiB  injected ${r.injected}\n`);
  for (const cell of only ? cells.filter((c) => c.label.includes(only)) : cells) {
    // Conversations differ per worker (and, in the cold cell, per request and target); each
    // request adds a new 2 KiB tool result to its conversation's history.
    const memo = new Map();
    const bodies = (t, w, i) => {
      const conversation = cell.cold ? 1000 + targets.indexOf(t) * 100_000 + w * 1000 + i + 10 : w + 1;
      const key = `${conversation}:${i}`;
      if (!memo.has(key)) memo.set(key, conversationOfSize(cell.bytes, conversation, i + 10));
      return memo.get(key);
    };
    post[cell.label] = await runPostCell(targets, upPort, { concurrency: cell.c, rounds: cell.rounds, warmup: cell.cold ? 1 : 2, bodies });
    for (const t of targets) report(cell.label, t.name, post[cell.label][t.name]);
    memo.clear();
  }
  let session = {};
  let drift = {};
  if (!only || "50-turn".includes(only)) {
    session = await runSessionCell(targets, upPort, { turns: QUICK ? 20 : 50, totalBytes: 1024 * 1024, seed: 7 });
    for (const t of targets) {
      const r = session[t.name];
      process.stderr.write(`${r.n}-turn session  ${t.name.padEnd(16)} sent ${fmt(r.sentMiB)} MiB  TTFE p50 ${fmt(r.ttfeP50, 2)} p95 ${fmt(r.ttfeP95, 2)} last ${fmt(r.lastTtfe, 2)} ms  CPU ${fmt(r.cpuMsTotal, 0)} ms total\n`);
    }
  }
  if (!only || "drift".includes(only)) {
    drift = await runDriftCell(targets, upPort, { count: DRIFT });
    for (const t of targets) {
      const r = drift[t.name];
      process.stderr.write(`drift ×${DRIFT}      ${t.name.padEnd(16)} p50 first-100 ${fmt(r.firstP50, 2)} last-100 ${fmt(r.lastP50, 2)} ms  CPU ${fmt(r.cpuFirstMsPerReq, 2)} → ${fmt(r.cpuLastMsPerReq, 2)} ms/req  RSS ${fmt(r.rssStart, 0)} → ${fmt(r.rssEnd, 0)} MiB\n`);
    }
  }

  const lines = [];
  lines.push("Claude-shaped cells: POST /v1/messages with a conversation body (system prompt, 16 tools, history; each request adds a new 2 KiB tool result), answered by 40 SSE events. TTFE = time to first event at the client. Targets are interleaved request by request (c=4: in rounds of 4), so load swings hit all alike.");
  lines.push("");
  lines.push("| cell | target | TTFE p50 ms | TTFE p95 ms | added TTFE p50 vs direct | total p50 ms | proxy CPU ms/req | CPU vs mitmdump | RSS MiB |");
  lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [label, row] of Object.entries(post)) {
    for (const t of targets) {
      const r = row[t.name];
      const added = t.name === "direct" ? "" : `+${fmt(r.ttfeP50 - row.direct.ttfeP50, 2)}`;
      const cpu = t.name === "direct" ? "" : fmt(r.cpuMsPerReq, 2);
      const vs = t.name === "direct" || t.name === "mitmdump" ? "" : `${fmt(r.cpuMsPerReq / row.mitmdump.cpuMsPerReq, 2)}×`;
      lines.push(`| ${label} | ${t.name} | ${fmt(r.ttfeP50, 2)} | ${fmt(r.ttfeP95, 2)} | ${added} | ${fmt(r.totalP50, 2)} | ${cpu} | ${vs} | ${t.name === "direct" ? "" : fmt(r.rss, 0)} |`);
    }
  }
  if (Object.keys(session).length > 0) {
    lines.push("");
    lines.push(`| ${session.direct.n}-turn session to ~1 MiB | target | sent MiB | TTFE p50 ms | TTFE p95 ms | last turn TTFE ms | proxy CPU total ms | proxy CPU ms/turn |`);
    lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const t of targets) {
      const r = session[t.name];
      lines.push(`| | ${t.name} | ${fmt(r.sentMiB)} | ${fmt(r.ttfeP50, 2)} | ${fmt(r.ttfeP95, 2)} | ${fmt(r.lastTtfe, 2)} | ${t.name === "direct" ? "" : fmt(r.cpuMsTotal, 0)} | ${t.name === "direct" ? "" : fmt(r.cpuMsPerReq, 2)} |`);
    }
  }
  const cold = post["1 MiB cold, c=1"];
  if (cold && session["bottle-egress"]) {
    const oneScan = cold["bottle-egress"].cpuMsPerReq - cold["egress, scan off"].cpuMsPerReq;
    const sessionScan = session["bottle-egress"].cpuMsTotal - session["egress, scan off"].cpuMsTotal;
    lines.push("");
    lines.push(`Scan cost (egress CPU minus egress with scan off): one cold 1 MiB conversation ${fmt(oneScan, 1)} ms; the whole ${session.direct.n}-turn session (${fmt(session.direct.sentMiB)} MiB sent) ${fmt(sessionScan, 0)} ms = ${fmt(sessionScan / oneScan, 2)}× one cold 1 MiB scan.`);
  }
  if (Object.keys(drift).length > 0) {
    lines.push("");
    lines.push(`| drift: ${DRIFT} × 16 KiB POST (after 200 warm-up) | target | p50 first 100 ms | p50 last 100 ms | last/first | CPU ms/req first 10 % | CPU ms/req last 10 % | RSS start → each quarter MiB |`);
    lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const t of targets) {
      const r = drift[t.name];
      const cpu = (v) => (t.name === "direct" ? "" : fmt(v, 2));
      lines.push(`| | ${t.name} | ${fmt(r.firstP50, 2)} | ${fmt(r.lastP50, 2)} | ${fmt(r.lastP50 / r.firstP50, 2)}× | ${cpu(r.cpuFirstMsPerReq)} | ${cpu(r.cpuLastMsPerReq)} | ${t.name === "direct" ? "" : [r.rssStart, ...r.rssQuarters].map((v) => fmt(v, 0)).join(" → ")} |`);
    }
  }
  return lines;
}

function fmtNum(n) {
  return Number.isFinite(n) ? n.toFixed(0) : "-";
}

function mitmVersion() {
  try {
    return /Mitmproxy: (\S+)/.exec(execFileSync("mitmdump", ["--version"], { encoding: "utf8" }))?.[1] ?? "?";
  } catch {
    return "?";
  }
}

main().catch((err) => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  console.error(err);
  process.exitCode = 1;
});
