#!/usr/bin/env node
// Benchmark of `bottle audit`'s reader (@bottle/audit) on a full egress log, baseline in the
// same run: reading the same JSONL file and JSON.parse-ing every line (the least any reader
// must do). Ours also converts, sorts, links (denials ↔ requests ↔ approvals) and merges
// supervise requests, git-gate and route-change records. Then the follow path: the cost of
// one poll that picks up 1,000 new lines at the end of the big file.
// Sizes: BENCH_AUDIT_MB (64, egress rotates at 64 MiB), BENCH_RUNS (3).
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const { createAuditReader, readAudit } = await import(path.join(repoRoot, "packages/audit/dist/index.js"));
const { createRequest, decideRequest } = await import(path.join(repoRoot, "packages/supervise/dist/index.js"));
const MB = Number(process.env.BENCH_AUDIT_MB ?? 64);
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));

const state = mkdtempSync(path.join(tmpdir(), "bottle-bench-audit-"));
const auditDir = path.join(state, "bundle", "audit");
mkdirSync(auditDir, { recursive: true });
const egressFile = path.join(auditDir, "egress.jsonl");

const hosts = ["api.example.com", "docs.example.com", "registry.npmjs.org", "github.com", "unknown.example.net"];
const start = Date.parse("2026-11-29T20:00:00Z");
let n = 0;
const line = () => {
  const host = hosts[n % hosts.length];
  const deny = host === "unknown.example.net";
  return JSON.stringify({ time: new Date(start + n * 7).toISOString(), id: `bench-${(n++).toString(36)}`, client: "172.30.0.3", kind: "request", method: n % 3 ? "GET" : "POST", host, port: 443, path: `/v1/items/${n % 997}`, decision: deny ? "deny" : "allow", route: deny ? null : host, status: deny ? 403 : 200, bytesIn: 120, bytesOut: 2048, durationMs: 12.5, ...(deny ? { reason: "host" } : {}) }) + "\n";
};
let chunk = "";
let size = 0;
while (size < MB * 1024 * 1024) {
  chunk += line();
  if (chunk.length > 1 << 20) {
    appendFileSync(egressFile, chunk);
    size += chunk.length;
    chunk = "";
  }
}
appendFileSync(egressFile, chunk);
const lines = n;
// a few supervise requests and decisions so linking has work
for (let i = 0; i < 20; i++) {
  const req = await createRequest(path.join(state, "bundle", "requests"), { kind: "egress-route", request: { host: "unknown.example.net", methods: ["GET"], ports: [443], reason: "bench" } }, new Date(start + i * 1000));
  await decideRequest(path.join(state, "bundle", "requests"), req.id, { approve: i % 2 === 0 }, new Date(start + i * 1000 + 500));
}

const time = async (fn) => {
  const t0 = process.hrtime.bigint();
  const out = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, out };
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const base = [];
const ours = [];
let count = 0;
for (let r = 0; r < RUNS; r++) {
  base.push((await time(() => readFileSync(egressFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)).length)).ms);
  const res = await time(() => readAudit(state));
  ours.push(res.ms);
  count = res.out.length;
}
const reader = createAuditReader(state);
await reader.poll();
let extra = "";
for (let i = 0; i < 1000; i++) extra += line();
appendFileSync(egressFile, extra);
const poll = await time(() => reader.poll());
const idle = await time(() => reader.poll());

const fileMb = statSync(egressFile).size / 1024 / 1024;
const mb = (ms) => (fileMb / (ms / 1000)).toFixed(1);
console.log(`audit reader, ${fileMb.toFixed(1)} MiB egress log (${lines.toLocaleString()} lines) + 40 supervise records, median of ${RUNS}:`);
console.log(`  baseline (read + JSON.parse per line): ${median(base).toFixed(0)} ms (${mb(median(base))} MiB/s)`);
console.log(`  readAudit (convert, sort, link, merge): ${median(ours).toFixed(0)} ms (${mb(median(ours))} MiB/s), ${count.toLocaleString()} records`);
console.log(`  ratio: ${(median(ours) / median(base)).toFixed(2)}x the baseline's time`);
console.log(`  follow: a poll that picks up 1,000 new lines: ${poll.ms.toFixed(1)} ms (${poll.out.length} records); an idle poll: ${idle.ms.toFixed(1)} ms`);
rmSync(state, { recursive: true, force: true });
