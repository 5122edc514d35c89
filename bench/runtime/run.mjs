#!/usr/bin/env node
// pnpm bench:runtime — the agent under gVisor (agent.runtime "runsc") versus the default
// runc, side by side in one run: `bottle start --detach` to agent-ready, and egress
// throughput measured from inside the agent (curl through the bundle's egress proxy,
// TLS intercepted, from an upstream container on the bottle's egress network).
// Needs the images (`bottle build --offline-base`) and runsc registered with the engine
// (scripts/docker-engine.sh).
//   node bench/runtime/run.mjs [--runs 3] [--mib 64]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const cli = path.join(root, "apps/cli/dist/bin.js");
const { buildUpstreamImage, createDemoWorld, DEMO_HOSTS, UPSTREAM_IMAGE } = await import(path.join(root, "tools/test-utils/dist/index.js"));
const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, mib: { type: "string", default: "64" } } });
const runs = Number(values.runs);
const bytes = Number(values.mib) * 1024 * 1024;

const runtimes = spawnSync("docker", ["info", "--format", "{{json .Runtimes}}"], { encoding: "utf8" }).stdout;
if (!runtimes.includes('"runsc"')) {
  console.error("runsc is not registered with the engine: run scripts/docker-engine.sh as root (see packages/backend-docker/README.md)");
  process.exit(1);
}

buildUpstreamImage();
const world = await createDemoWorld({ id: "bench-runtime", bottles: ["rc", "sc"] });
const stateHome = mkdtempSync(path.join(os.tmpdir(), "bottle-bench-runtime-state-"));
const env = { ...process.env, ...world.env, XDG_STATE_HOME: stateHome };
// the same bottle twice; only the agent's runtime differs
const manifest = JSON.parse(readFileSync(world.manifestPath, "utf8"));
manifest.bottles.rc.agent = { ...manifest.bottles.rc.agent, runtime: "runc" };
manifest.bottles.sc.agent = { ...manifest.bottles.sc.agent, runtime: "runsc" };
writeFileSync(world.manifestPath, JSON.stringify(manifest, null, 2));

function run(cmd, args) {
  const res = spawnSync(cmd, args, { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${res.status}):\n${res.stdout}\n${res.stderr}`);
  return res.stdout.trim();
}
const timed = (fn) => {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// A byte source answering as the docs host (an allowed route without credentials): /bytes?n=N.
const source = "bottle-test-bench-runtime-bytes";
spawnSync("docker", ["rm", "-f", source]);
const script = `const https=require("https"),fs=require("fs");const buf=Buffer.alloc(1<<20,120);
https.createServer({cert:fs.readFileSync("/fixture/tls.crt"),key:fs.readFileSync("/fixture/tls.key")},(q,s)=>{
const n=Number(new URL(q.url,"https://x").searchParams.get("n")||0);s.writeHead(200,{"content-type":"application/octet-stream","content-length":n});
let left=n;const pump=()=>{while(left>0){const c=Math.min(left,buf.length);left-=c;if(!s.write(c===buf.length?buf:buf.subarray(0,c))){s.once("drain",pump);return;}}s.end();};pump();}).listen(443,()=>console.log("bytes ready"));`;
run("docker", ["run", "-d", "--name", source, "--label", "dev.bottle.test=1", "--network", world.network, "-v", `${path.join(world.material.dir, "fixture")}:/fixture:ro`, "--entrypoint", "node", UPSTREAM_IMAGE, "-e", script]);
for (let i = 0; i < 100 && !spawnSync("docker", ["logs", source], { encoding: "utf8" }).stdout.includes("bytes ready"); i++) spawnSync("sleep", ["0.1"]);

const plans = Object.fromEntries(["rc", "sc"].map((b) => [b, JSON.parse(run(process.execPath, [cli, "plan", b, "-f", world.manifestPath, "--json"]))]));
const results = { rc: { start: [], mibps: [] }, sc: { start: [], mibps: [] } };
try {
  for (let i = 0; i < runs; i++) {
    for (const b of ["rc", "sc"]) {
      const plan = plans[b];
      results[b].start.push(timed(() => run(process.execPath, [cli, "start", b, "--detach", "--no-build", "-f", world.manifestPath])));
      run("docker", ["network", "connect", "--alias", DEMO_HOSTS.docs, plan.networks.egress, source]);
      try {
        for (let k = 0; k < 3; k++) {
          const out = run("docker", ["exec", "-u", "node", plan.machines.agent, "curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", `https://${DEMO_HOSTS.docs}/bytes?n=${bytes}`]);
          const [size, seconds] = out.split(" ").map(Number);
          if (size !== bytes) throw new Error(`downloaded ${size} of ${bytes} bytes`);
          results[b].mibps.push(size / 1024 / 1024 / seconds);
        }
      } finally {
        spawnSync("docker", ["network", "disconnect", "-f", plan.networks.egress, source]);
        run(process.execPath, [cli, "stop", plan.slug]);
      }
      process.stderr.write(`run ${i + 1}/${runs} ${b === "rc" ? "runc " : "runsc"}: start ${results[b].start.at(-1).toFixed(0)} ms, egress ${results[b].mibps.slice(-3).map((x) => x.toFixed(1)).join(" / ")} MiB/s\n`);
    }
  }
} finally {
  spawnSync("docker", ["rm", "-f", source]);
  world.remove();
  rmSync(stateHome, { recursive: true, force: true });
}

const m = { rc: { start: median(results.rc.start), mibps: median(results.rc.mibps) }, sc: { start: median(results.sc.start), mibps: median(results.sc.mibps) } };
const raw = (xs, d = 0) => xs.map((x) => x.toFixed(d)).join(", ");
console.log(`\n### agent runtime: runsc (gVisor) vs runc (median; ${runs} starts and ${3 * runs} downloads of ${values.mib} MiB each; ${os.cpus().length} cores)\n`);
console.log("| measure | runsc | runc | ratio runsc/runc | raw runsc | raw runc |");
console.log("| --- | --- | --- | --- | --- | --- |");
console.log(`| bottle start → agent ready | ${(m.sc.start / 1000).toFixed(2)} s | ${(m.rc.start / 1000).toFixed(2)} s | ${(m.sc.start / m.rc.start).toFixed(2)}× | ${raw(results.sc.start)} ms | ${raw(results.rc.start)} ms |`);
console.log(`| egress download through the bundle | ${m.sc.mibps.toFixed(1)} MiB/s | ${m.rc.mibps.toFixed(1)} MiB/s | ${(m.sc.mibps / m.rc.mibps).toFixed(2)}× | ${raw(results.sc.mibps, 1)} | ${raw(results.rc.mibps, 1)} |`);
console.log("\nOnly the agent container's runtime differs; the bundle (egress proxy, TLS interception) runs under runc in both. Download: curl in the agent, HTTPS through egress (intercepted and re-encrypted), from a byte source on the bottle's egress network.");
