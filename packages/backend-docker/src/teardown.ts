import { writeFile } from "node:fs/promises";
import path from "node:path";
import { LABELS, type BottlePlan } from "@bottle/plan";
import { bottlePhase, prepareStateDir, readMetadata, retireState, stateDirFor, writeMetadata, type BottleMetadata } from "@bottle/state";
import { ROLE_LABEL, STATE_DIR_LABEL } from "./compose.js";
import { checkEngine, DockerCli } from "./engine.js";
import { DEFAULT_TOOLS, type DockerTools } from "./exec.js";
import { removeNetworks } from "./networks.js";
import type { ProgressListener } from "./progress.js";

export interface StopOptions {
  /** Default: stateDirFor(plan.slug). */
  stateDir?: string;
  /**
   * Host user who should own what the bundle (root inside) wrote into `<state>/bundle`.
   * Default: this process's uid/gid; nothing to do when that is root.
   */
  owner?: { uid: number; gid: number };
  onProgress?: ProgressListener;
  cli?: DockerCli;
  tools?: DockerTools;
}

export interface StopReport {
  /** `<state>/logs/compose.log`, when there was anything to dump. */
  logFile?: string;
  containers: string[];
  networks: string[];
}

/**
 * Stops a bottle: dumps every container's log into `<state>/logs/compose.log`, then does
 * what `compose down --remove-orphans --volumes` would, with direct docker calls (compose
 * v1 pays a Python start-up per invocation): stop all the bottle's containers at once,
 * remove them with their anonymous volumes, remove its networks. Everything is found by
 * the bottle's label. Safe to call on a bottle that is half up or already gone.
 */
export async function stopBottle(plan: BottlePlan, options: StopOptions = {}): Promise<StopReport> {
  const cli = options.cli ?? new DockerCli(options.tools ?? DEFAULT_TOOLS);
  const stateDir = options.stateDir ?? stateDirFor(plan.slug);
  const progress = options.onProgress ?? (() => {});
  const report: StopReport = { containers: [], networks: [] };

  // The engine check (what DockerCli.connect does) runs alongside the listing; its error,
  // with the hint, wins when the engine is not there.
  const listing = Promise.all([containersBySlug(cli, plan.slug), networksBySlug(cli, plan.slug)]);
  listing.catch(() => undefined);
  if (!options.cli) await checkEngine(cli.tools);
  const [present, labelledNetworks] = await listing;
  const owner = options.owner ?? (process.getuid && process.getgid ? { uid: process.getuid(), gid: process.getgid() } : undefined);
  const bundle = present.find((c) => c.role === "bundle" && c.running);
  if (bundle && owner && owner.uid !== 0) {
    // Otherwise the host user could not delete the mirrors and audit log of its own bottle.
    const chown = await cli.docker(["exec", "-u", "0", bundle.id, "chown", "-R", `${owner.uid}:${owner.gid}`, plan.bundle.paths.state]);
    if (chown.exitCode !== 0) progress({ step: "teardown", message: `could not hand ${plan.bundle.paths.state} back to uid ${owner.uid}: ${chown.stderr.trim()}`, level: "warn" });
  }
  if (present.length) {
    report.logFile = await writeContainerLogs(cli, present, stateDir);
    progress({ step: "teardown", message: `logs saved to ${report.logFile}` });
  }
  // The bottle's networks are the ones labelled with its slug, removed by id: a name could
  // be ambiguous (two networks of one name) and then nothing would remove either.
  const networkIds = labelledNetworks.map((n) => n.id).filter(unique);
  const nameOf = new Map(labelledNetworks.map((n) => [n.id, n.name]));
  // A stopped container no longer holds an endpoint: its removal and the networks' go
  // together. Whatever the first network attempt left is retried once the containers are gone.
  await stopContainers(cli, present, { stopTimeoutS: 10 });
  const [, early] = await Promise.all([
    present.length ? cli.dockerOk(["rm", "-f", "-v", ...present.map((c) => c.id)], { what: "removing containers" }) : undefined,
    networkIds.length ? cli.docker(["network", "rm", ...networkIds]) : { exitCode: 0, stdout: "", stderr: "" },
  ]);
  const removedEarly = early.exitCode === 0 ? networkIds : networkIds.filter((id) => early.stdout.split("\n").some((line) => line.trim() === id));
  report.containers = present.map((c) => c.name);
  report.networks = [...removedEarly, ...(await removeNetworks(cli, networkIds.filter((id) => !removedEarly.includes(id))))].map((id) => nameOf.get(id) ?? id);
  progress({ step: "teardown", message: `removed ${report.containers.length} container(s), ${report.networks.length} network(s)` });

  const metadata = await readMetadata(stateDir);
  if (metadata) {
    const { pid: _pid, ...rest } = metadata;
    await writeMetadata(stateDir, { ...rest, stoppedAt: new Date().toISOString() });
  }
  return report;
}

/**
 * `compose down` without compose: `docker stop` of all containers in one call (the engine
 * stops them in parallel; each runs under an init or traps SIGTERM, so they exit promptly),
 * then `docker rm -f -v` (anonymous volumes go too; -f covers a container that started
 * meanwhile).
 */
async function removeContainers(cli: DockerCli, containers: readonly LabelledObject[], options: { stopTimeoutS: number }): Promise<void> {
  if (containers.length === 0) return;
  await stopContainers(cli, containers, options);
  await cli.dockerOk(["rm", "-f", "-v", ...containers.map((c) => c.id)], { what: "removing containers" });
}

async function stopContainers(cli: DockerCli, containers: readonly LabelledObject[], options: { stopTimeoutS: number }): Promise<void> {
  const running = containers.filter((c) => c.running).map((c) => c.id);
  if (running.length) await cli.docker(["stop", "--time", String(options.stopTimeoutS), ...running]);
}

/**
 * Removes everything of a bottle that failed to start, by label: logs saved first, then
 * containers (short stop timeout), then networks. Never throws.
 */
export async function tearDownFailedStart(cli: DockerCli, plan: BottlePlan, stateDir: string, networkIds: readonly string[]): Promise<void> {
  const present = await containersBySlug(cli, plan.slug).catch(() => [] as LabelledObject[]);
  if (present.length) {
    await writeContainerLogs(cli, present, stateDir).catch(() => undefined);
    await removeContainers(cli, present, { stopTimeoutS: 5 }).catch(() => undefined);
    // Anything that appeared meanwhile (a compose up killed mid-way).
    await removeContainersBySlug(cli, plan.slug).catch(() => undefined);
  }
  const labelled = await networksBySlug(cli, plan.slug).catch(() => [] as LabelledObject[]);
  // by id (see stopBottle)
  await removeNetworks(cli, [...networkIds, ...labelled.map((n) => n.id)].filter(unique)).catch(() => undefined);
}

/**
 * Writes the timestamped logs of the bottle's containers to `<state>/logs/compose.log` and
 * returns the path. Each line reads `<service> | <timestamp> <text>` like `compose logs
 * --timestamps`; lines of all containers are merged in time order.
 */
export async function dumpComposeLogs(cli: DockerCli, plan: BottlePlan, stateDir: string): Promise<string> {
  return writeContainerLogs(cli, await containersBySlug(cli, plan.slug), stateDir);
}

async function writeContainerLogs(cli: DockerCli, containers: readonly LabelledObject[], stateDir: string): Promise<string> {
  const layout = await prepareStateDir(stateDir);
  const file = path.join(layout.logs, "compose.log");
  const width = Math.max(0, ...containers.map((c) => serviceOf(c).length));
  const perContainer = await Promise.all(
    containers.map(async (container) => {
      const result = await cli.docker(["logs", "--timestamps", container.id]);
      const prefix = `${serviceOf(container).padEnd(width)} | `;
      const lines = `${result.stdout}\n${result.stderr}`.split("\n").filter((line) => line !== "");
      return lines.map((line) => ({ at: timestampOf(line), text: prefix + line }));
    }),
  );
  // A stable sort keeps each container's own order; lines without a timestamp sort first.
  const merged = perContainer.flat().sort((a, b) => a.at - b.at);
  const text = merged.map((line) => line.text).join("\n");
  await writeFile(file, `${text}\n`, { mode: 0o600 });
  return file;
}

function serviceOf(container: LabelledObject): string {
  return container.role ?? container.name;
}

/** Milliseconds of the RFC 3339 timestamp `docker logs --timestamps` puts first (0 if none). */
function timestampOf(line: string): number {
  const space = line.indexOf(" ");
  const at = Date.parse(space > 0 ? line.slice(0, space) : line);
  return Number.isNaN(at) ? 0 : at;
}

interface LabelledObject {
  id: string;
  name: string;
  slug: string;
  stateDir?: string;
  role?: string;
  running: boolean;
}

async function listLabelled(cli: DockerCli, kind: "container" | "network", filters: Record<string, string>): Promise<LabelledObject[]> {
  const filterArgs = Object.entries(filters).flatMap(([k, v]) => ["--filter", `label=${k}=${v}`]);
  const format = `{{json .ID}}\t{{json .${kind === "container" ? "Names" : "Name"}}}\t{{json (.Label "${LABELS.slug}")}}\t{{json (.Label "${STATE_DIR_LABEL}")}}\t{{json (.Label "${ROLE_LABEL}")}}\t{{json .${kind === "container" ? "State" : "Driver"}}}`;
  const args = kind === "container" ? ["ps", "-a", ...filterArgs, "--format", format] : ["network", "ls", ...filterArgs, "--format", format];
  const out = await cli.dockerOk(args, { what: `listing ${kind}s` });
  return out
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => {
      const [id, name, slug, stateDir, role, state] = line.split("\t").map((field) => JSON.parse(field) as string);
      return { id: id!, name: name!, slug: slug ?? "", ...(stateDir ? { stateDir } : {}), ...(role ? { role } : {}), running: kind === "container" && state === "running" };
    });
}

export function containersBySlug(cli: DockerCli, slug: string) {
  return listLabelled(cli, "container", { [LABELS.slug]: slug });
}

function networksBySlug(cli: DockerCli, slug: string) {
  return listLabelled(cli, "network", { [LABELS.slug]: slug });
}

/** `docker rm -f -v` of every container labelled with the slug (anonymous volumes go too). */
export async function removeContainersBySlug(cli: DockerCli, slug: string): Promise<string[]> {
  const containers = await containersBySlug(cli, slug);
  if (containers.length) await cli.dockerOk(["rm", "-f", "-v", ...containers.map((c) => c.id)], { what: "removing containers" });
  return containers.map((c) => c.name);
}

export interface CleanupOptions {
  /** Extra label filters (on top of `dev.bottle.managed=true`), e.g. to scope a test run. */
  labels?: Record<string, string>;
  /** Whether a holder PID still runs. Default: `process.kill(pid, 0)`. */
  isAlive?: (pid: number) => boolean;
  onProgress?: ProgressListener;
  cli?: DockerCli;
  tools?: DockerTools;
}

export interface CleanupReport {
  /** Slugs judged orphaned, with the reason. */
  bottles: Array<{ slug: string; reason: string }>;
  containers: string[];
  networks: string[];
  /** Orphans that could not be removed (cleanup went on with the others). */
  failures: Array<{ slug: string; error: string }>;
}

/**
 * Removes containers and networks labelled `dev.bottle.managed=true` whose bottle nobody
 * holds any more, and retires their state (secrets removed). A bottle is kept while the
 * CLI PID in its metadata.json runs; a detached bottle (no PID) while it has containers; a
 * bottle still starting while the process starting it runs (once that process is gone, a
 * start that never finished is an orphan). Found by labels and removed by id, never by
 * name. A failure on one bottle is reported and the others are still cleaned.
 */
export async function cleanupOrphans(options: CleanupOptions = {}): Promise<CleanupReport> {
  const cli = options.cli ?? (await DockerCli.connect(options.tools));
  const isAlive = options.isAlive ?? pidAlive;
  const filters = { [LABELS.managed]: "true", ...options.labels };
  const containers = await listLabelled(cli, "container", filters);
  const networks = await listLabelled(cli, "network", filters);
  const report: CleanupReport = { bottles: [], containers: [], networks: [], failures: [] };

  const slugs = [...new Set([...containers, ...networks].map((o) => o.slug))].sort();
  for (const slug of slugs) {
    const own = { containers: containers.filter((c) => c.slug === slug), networks: networks.filter((n) => n.slug === slug) };
    const stateDir = [...own.containers, ...own.networks].find((o) => o.stateDir)?.stateDir ?? (slug ? stateDirFor(slug) : undefined);
    const metadata = stateDir ? await readMetadata(stateDir) : undefined;
    const reason = orphanReason(slug, metadata, own.containers.length, isAlive);
    if (!reason) continue;

    try {
      if (own.containers.length) {
        await cli.dockerOk(["rm", "-f", "-v", ...own.containers.map((c) => c.id)], { what: "removing orphaned containers" });
        report.containers.push(...own.containers.map((c) => c.name));
      }
      const nameOf = new Map(own.networks.map((n) => [n.id, n.name]));
      report.networks.push(...(await removeNetworks(cli, own.networks.map((n) => n.id))).map((id) => nameOf.get(id) ?? id));
      if (metadata && stateDir) {
        const { pid: _pid, ...rest } = metadata;
        await writeMetadata(stateDir, { ...rest, stoppedAt: rest.stoppedAt ?? new Date().toISOString() });
        await retireState(stateDir);
      }
      report.bottles.push({ slug, reason });
      options.onProgress?.({ step: "teardown", message: `removed leftovers of ${slug || "an unlabelled bottle"}: ${reason}` });
    } catch (error) {
      report.failures.push({ slug, error: (error as Error).message });
      options.onProgress?.({ step: "teardown", message: `could not remove the leftovers of ${slug || "an unlabelled bottle"}: ${(error as Error).message}`, level: "warn" });
    }
  }
  return report;
}

/** Why a bottle's containers/networks are orphaned, or undefined when someone holds it. */
function orphanReason(slug: string, metadata: BottleMetadata | undefined, containerCount: number, isAlive: (pid: number) => boolean): string | undefined {
  if (!slug) return "no bottle slug label";
  if (!metadata) return "no metadata.json (state dir gone)";
  switch (bottlePhase(metadata, isAlive)) {
    case "starting":
      return undefined;
    case "interrupted":
      return metadata.pid !== undefined ? `its start did not finish (process ${metadata.pid} is gone)` : "its start did not finish";
    case "stopped":
      return "marked stopped";
    case "ready":
      if (metadata.pid !== undefined) return isAlive(metadata.pid) ? undefined : `holder process ${metadata.pid} is gone`;
      return containerCount === 0 ? "detached bottle without containers" : undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function unique<T>(value: T, index: number, all: T[]): boolean {
  return all.indexOf(value) === index;
}
