import { assertReady, BACKEND_SPEC_VERSION, slugOf, type BottleBackend, type BottleListing, type CleanupReport } from "@bottle/backend";
import { BottleError } from "@bottle/errors";
import { AGENT_USER } from "@bottle/plan";
import { pidAlive, readMetadata, stateDirFor } from "@bottle/state";
import { createSmolvmBackend, type SmolvmBackend } from "./backend.js";
import type { SmolvmCliOptions } from "./cli.js";

/** A holder that still runs keeps its bottle out of cleanup (detached ready bottles too). */
async function held(slug: string, isAlive: (pid: number) => boolean): Promise<boolean> {
  const metadata = await readMetadata(stateDirFor(slug));
  if (!metadata || metadata.stoppedAt) return false;
  if (metadata.pid === undefined) return metadata.phase !== "starting"; // detached and ready
  return isAlive(metadata.pid);
}

/**
 * The smolvm backend behind the bottle backend contract (@bottle/backend): the machine
 * operations of createSmolvmBackend, with the state dir the shared start prepared.
 * No pipelock sidecar yet; the agent is a microVM, so there is no agent runtime to choose.
 */
export function createSmolvmBottleBackend(options: SmolvmCliOptions = {}, machines: SmolvmBackend = createSmolvmBackend(options)): BottleBackend {
  return {
    specVersion: BACKEND_SPEC_VERSION,
    name: "smolvm",
    supports: { pipelock: false, sidecarLogs: false, followLogs: false, workspaceMount: true, agentRuntimes: [] },
    async preflight(plan) {
      const rows = await machines.list();
      if (rows.some((r) => r.slug === plan.slug)) {
        throw new BottleError(`bottle "${plan.bottle}" (${plan.slug}) is already running or left machines behind`, {
          code: "BOTTLE_ALREADY_RUNNING",
          hint: `Stop it with \`bottle stop ${plan.bottle}\`, or remove leftovers of interrupted runs with \`bottle cleanup\`.`,
        });
      }
    },
    async launch(session) {
      // smolvm learns the bundle's address only once its machine runs; the files do not depend on it
      await session.writeBundleFiles();
      const result = await machines.launch({
        planFor: (bundleAddress) => session.planFor(bundleAddress ? { bundleAddress } : {}),
        stateDir: session.layout.root,
        log: (line) => session.onProgress({ step: "smolvm", message: line }),
      });
      for (const warning of result.warnings) session.onProgress({ step: "provision", message: warning, level: "warn" });
      return result.plan;
    },
    attach: (plan, command) => machines.attach(plan, command ? [...command] : undefined),
    async exec(ref, request) {
      if (request.user !== undefined && request.user !== AGENT_USER.name) {
        throw new BottleError(`exec as ${request.user} is not supported on the smolvm backend`, { code: "BACKEND_UNSUPPORTED", hint: `commands run as the agent user (${AGENT_USER.name})` });
      }
      // nothing runs in an agent that is not yet (or never was) fenced and provisioned
      await assertReady(slugOf(ref));
      const result = await machines.exec(slugOf(ref), [...request.command]);
      if (request.stdio === "capture") return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      return { exitCode: result.exitCode };
    },
    async logs(ref, request) {
      (request.output ?? process.stdout).write(await machines.logs(slugOf(ref)));
      return 0;
    },
    async reload(plan, layout) {
      return { signalled: await machines.reload(plan, { stateDir: layout.root }) };
    },
    async stop(plan, layout) {
      await machines.stop(plan, { logsDir: layout.logs });
      return { logFile: `${layout.logs}/bundle.log` };
    },
    async list(): Promise<BottleListing[]> {
      return (await machines.list()).map((row) => {
        const bundle = row.machines.find((m) => m.role === "bundle");
        const agent = row.machines.find((m) => m.role === "agent");
        return { slug: row.slug, bottle: row.bottle, backend: "smolvm" as const, ...(bundle ? { bundle: { state: bundle.state } } : {}), ...(agent ? { agent: { state: agent.state } } : {}) };
      });
    },
    async cleanup(filter = {}): Promise<CleanupReport> {
      const isAlive = filter.isAlive ?? pidAlive;
      const rows = await machines.list();
      const keep = new Set<string>();
      for (const row of rows) if ((filter.slug !== undefined && row.slug !== filter.slug) || (await held(row.slug, isAlive))) keep.add(row.slug);
      const bottles: CleanupReport["bottles"] = [];
      const failures: CleanupReport["failures"] = [];
      for (const row of rows.filter((r) => !keep.has(r.slug))) {
        try {
          await machines.cleanup({ slug: row.slug });
          bottles.push({ slug: row.slug, reason: "no live CLI holds it" });
        } catch (error) {
          failures.push({ slug: row.slug, error: (error as Error).message });
        }
      }
      return { bottles, failures };
    },
    doctor: () => machines.doctor(),
  };
}

/** The smolvm backend with the binary from BOTTLE_SMOLVM_BIN or `smolvm` on PATH. */
export const smolvmBottleBackend: BottleBackend = createSmolvmBottleBackend();
