import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { TEST_LABEL, TEST_RUN_ID, TEST_RUN_LABEL, ensureDocker } from "@bottle/test-utils";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STATE_DIR_LABEL } from "./compose.js";
import { DockerCli } from "./engine.js";
import { readMetadata, writeMetadata } from "@bottle/state";
import { cleanupOrphans } from "./teardown.js";

const run = TEST_RUN_ID.replace(/[^a-z0-9]/g, "");
const tmp = mkdtempSync(path.join(os.tmpdir(), "bottle-cleanup-"));
const scope = { [TEST_RUN_LABEL]: TEST_RUN_ID };

async function leftover(name: string, options: { pid?: number; metadata: boolean; container: boolean; phase?: "starting" | "ready" }) {
  const slug = `bt${run}-${name}`;
  const stateDir = path.join(tmp, slug);
  mkdirSync(stateDir, { recursive: true });
  const labels = { "dev.bottle.managed": "true", "dev.bottle.slug": slug, "dev.bottle.name": name, [STATE_DIR_LABEL]: stateDir, [TEST_LABEL]: "1", ...scope };
  const labelArgs = Object.entries(labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
  const network = `bottle-${slug}-internal`;
  await execa("docker", ["network", "create", "--internal", ...labelArgs, network]);
  const container = `bottle-${slug}-agent`;
  if (options.container) await execa("docker", ["run", "-d", "--init", "--name", container, "--network", network, ...labelArgs, "bottle/base:bookworm", "sleep", "infinity"]);
  if (options.metadata) {
    await writeMetadata(stateDir, {
      version: 1, slug, bottle: name, backend: "docker", manifestPath: "/x/bottle.json", composeProject: `bottle-${slug}`, composeFile: path.join(stateDir, "compose.yaml"),
      networks: { internal: network, egress: `bottle-${slug}-egress` }, containers: { bundle: `bottle-${slug}-bundle`, agent: container },
      ...(options.pid !== undefined ? { pid: options.pid } : {}), ...(options.phase ? { phase: options.phase } : {}), startedAt: new Date().toISOString(),
    });
  }
  return { slug, network, container, stateDir };
}

let cli: DockerCli;
beforeAll(async () => {
  await ensureDocker();
  cli = await DockerCli.connect();
});

afterAll(async () => {
  const ids = (await execa("docker", ["ps", "-aq", "--filter", `label=${TEST_RUN_LABEL}=${TEST_RUN_ID}`])).stdout.split("\n").filter(Boolean);
  if (ids.length) await execa("docker", ["rm", "-f", "-v", ...ids], { reject: false });
  const nets = (await execa("docker", ["network", "ls", "-q", "--filter", `label=${TEST_RUN_LABEL}=${TEST_RUN_ID}`])).stdout.split("\n").filter(Boolean);
  if (nets.length) await execa("docker", ["network", "rm", ...nets], { reject: false });
  rmSync(tmp, { recursive: true, force: true });
});

describe("cleanupOrphans", () => {
  it("removes, by label, exactly the bottles nobody holds", async () => {
    const deadPid = spawnSync("true").pid!;
    const crashed = await leftover("crashed", { pid: deadPid, metadata: true, container: true });
    const live = await leftover("live", { pid: process.pid, metadata: true, container: true });
    const detached = await leftover("detached", { metadata: true, container: true });
    const detachedGone = await leftover("gone", { metadata: true, container: false });
    const stateless = await leftover("stateless", { metadata: false, container: false });

    const report = await cleanupOrphans({ cli, labels: scope });

    expect(report.bottles.map((b) => b.slug).sort()).toEqual([crashed.slug, detachedGone.slug, stateless.slug].sort());
    expect(report.bottles.find((b) => b.slug === crashed.slug)?.reason).toMatch(/holder process \d+ is gone/);
    expect(report.containers).toEqual([crashed.container]);
    expect(report.networks.sort()).toEqual([crashed.network, detachedGone.network, stateless.network].sort());

    const names = (await execa("docker", ["ps", "-a", "--format", "{{.Names}}", "--filter", `label=${TEST_RUN_LABEL}=${TEST_RUN_ID}`])).stdout.split("\n").sort();
    expect(names).toEqual([detached.container, live.container].sort());
    const networks = (await execa("docker", ["network", "ls", "--format", "{{.Name}}", "--filter", `label=${TEST_RUN_LABEL}=${TEST_RUN_ID}`])).stdout.split("\n").sort();
    expect(networks).toEqual([detached.network, live.network].sort());
    expect(await readMetadata(crashed.stateDir)).not.toHaveProperty("pid");

    // Once the holder of "live" is gone too, a second pass removes it.
    const again = await cleanupOrphans({ cli, labels: scope, isAlive: () => false });
    expect(again.bottles.map((b) => b.slug)).toEqual([live.slug]);
  });

  it("takes a start that never finished for an orphan once its process is gone, and keeps one in progress", async () => {
    const deadPid = spawnSync("true").pid!;
    const interrupted = await leftover("interrupted", { pid: deadPid, phase: "starting", metadata: true, container: true });
    const inProgress = await leftover("inprogress", { pid: process.pid, phase: "starting", metadata: true, container: false });
    const report = await cleanupOrphans({ cli, labels: scope });
    expect(report.bottles).toEqual([{ slug: interrupted.slug, reason: `its start did not finish (process ${deadPid} is gone)` }]);
    expect(report.failures).toEqual([]);
    const networks = (await execa("docker", ["network", "ls", "--format", "{{.Name}}", "--filter", `label=dev.bottle.slug=${inProgress.slug}`])).stdout;
    expect(networks).toBe(inProgress.network);
    await cleanupOrphans({ cli, labels: scope, isAlive: () => false });
  });

  it("reports an orphan it cannot remove and goes on to the others", async () => {
    const busy = await leftover("a-busy", { metadata: false, container: false });
    const after = await leftover("b-after", { metadata: false, container: false });
    // A container that is not the bottle's holds the busy network: the engine refuses to remove it.
    const foreign = `bottle-test-foreign-${run}`;
    await execa("docker", ["run", "-d", "--init", "--name", foreign, "--label", `${TEST_LABEL}=1`, "--label", `${TEST_RUN_LABEL}=${TEST_RUN_ID}`, "--network", busy.network, "bottle/base:bookworm", "sleep", "infinity"]);
    const report = await cleanupOrphans({ cli, labels: scope });
    expect(report.failures.map((f) => f.slug)).toEqual([busy.slug]);
    expect(report.failures[0]!.error).toContain(busy.network);
    expect(report.bottles.map((b) => b.slug)).toEqual([after.slug]);
    expect(report.networks).toEqual([after.network]);
    await execa("docker", ["rm", "-f", foreign]);
    expect((await cleanupOrphans({ cli, labels: scope })).bottles.map((b) => b.slug)).toEqual([busy.slug]);
  });
});
