#!/usr/bin/env node
// pnpm bench:start — `bottle start --detach` (to agent-ready) and `bottle stop`, versus
// plain compose up (waiting for the same health) and down of the same rendered compose
// file, side by side in one run. Images must be built (`pnpm bottle build --offline-base` here, no registry).
//   node bench/start/run.mjs [--runs 5]
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const cli = path.join(root, "apps/cli/dist/bin.js");
const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(values.runs);

const dir = mkdtempSync(path.join(os.tmpdir(), "bottle-bench-start-"));
const manifestPath = path.join(dir, "bottle.json");
writeFileSync(
  manifestPath,
  JSON.stringify({
    bottles: {
      bench: {
        agent: { command: ["bash"] },
        egress: { routes: [{ host: "api.example.com", inject: { "x-api-key": { env: "BENCH_KEY" } } }] },
      },
    },
  }),
);
const env = { ...process.env, BENCH_KEY: "sk-bench-0123456789abcdef0123456789" };

function run(cmd, args, options = {}) {
  const res = spawnSync(cmd, args, { env, encoding: "utf8", ...options });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${res.status}):\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

function timed(fn) {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const plan = JSON.parse(run(process.execPath, [cli, "plan", "bench", "-f", manifestPath, "--json"]));
const composeCmd = spawnSync("docker", ["compose", "version"]).status === 0 ? ["docker", "compose"] : ["docker-compose"];

// One bottle start gives the rendered compose file and a complete state dir for the baseline.
run(process.execPath, [cli, "start", "bench", "--detach", "--no-build", "-f", manifestPath]);
const stateDir = path.join(process.env.XDG_STATE_HOME ?? path.join(os.homedir(), ".local/state"), "bottle", plan.slug);
const baselineState = path.join(dir, "baseline-state");
cpSync(stateDir, baselineState, { recursive: true });
run(process.execPath, [cli, "stop", plan.slug]);
const baselineProject = "bottle-bench-baseline";
const composeFile = path.join(dir, "baseline-compose.yaml");
writeFileSync(composeFile, readFileSync(path.join(baselineState, "compose.yaml"), "utf8").split(stateDir).join(baselineState));

function waitReady() {
  // what `up --wait` would wait for: the bundle healthy, the agent running
  for (let i = 0; i < 600; i++) {
    const states = spawnSync("docker", ["inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", plan.machines.bundle, plan.machines.agent], { encoding: "utf8" }).stdout.trim().split("\n");
    if (states[0] === "running healthy" && states[1]?.startsWith("running")) return;
    execFileSync("sleep", ["0.1"]);
  }
  throw new Error("baseline never became ready");
}

const results = { bottleStart: [], bottleStop: [], composeUp: [], composeDown: [] };
for (let i = 0; i < runs; i++) {
  results.bottleStart.push(timed(() => run(process.execPath, [cli, "start", "bench", "--detach", "--no-build", "-f", manifestPath])));
  results.bottleStop.push(timed(() => run(process.execPath, [cli, "stop", plan.slug])));

  run("docker", ["network", "create", "--internal", plan.networks.internal]);
  run("docker", ["network", "create", plan.networks.egress]);
  results.composeUp.push(
    timed(() => {
      run(composeCmd[0], [...composeCmd.slice(1), "-p", baselineProject, "-f", composeFile, "up", "-d"]);
      waitReady();
    }),
  );
  results.composeDown.push(timed(() => run(composeCmd[0], [...composeCmd.slice(1), "-p", baselineProject, "-f", composeFile, "down", "--volumes"])));
  run("docker", ["network", "rm", plan.networks.internal, plan.networks.egress]);
  process.stderr.write(`run ${i + 1}/${runs}: start ${results.bottleStart[i].toFixed(0)} ms, stop ${results.bottleStop[i].toFixed(0)} ms; compose up ${results.composeUp[i].toFixed(0)} ms, down ${results.composeDown[i].toFixed(0)} ms\n`);
}
rmSync(dir, { recursive: true, force: true });

const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(`\n### bottle start/stop vs plain ${composeCmd.join(" ")} (median of ${runs}; ${os.cpus().length} cores)\n`);
console.log("| step | bottle | compose | ratio | raw bottle (ms) | raw compose (ms) |");
console.log("| --- | --- | --- | --- | --- | --- |");
console.log(`| start → agent ready | ${fmt(m.bottleStart)} | ${fmt(m.composeUp)} | ${(m.bottleStart / m.composeUp).toFixed(2)}× | ${results.bottleStart.map((x) => x.toFixed(0)).join(", ")} | ${results.composeUp.map((x) => x.toFixed(0)).join(", ")} |`);
console.log(`| stop | ${fmt(m.bottleStop)} | ${fmt(m.composeDown)} | ${(m.bottleStop / m.composeDown).toFixed(2)}× | ${results.bottleStop.map((x) => x.toFixed(0)).join(", ")} | ${results.composeDown.map((x) => x.toFixed(0)).join(", ")} |`);
console.log("\nbottle start includes what compose alone does not: CLI start-up, secret resolution, state dir and CA, network creation, bundle config rendering, the network fence, provisioning (CA trust, gitconfig, MCP registration). bottle stop includes the CLI start-up, saving the containers' logs and removing both networks. The compose baseline gets its networks created and removed outside the timed region.");
