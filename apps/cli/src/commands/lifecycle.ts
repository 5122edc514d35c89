import type { Command } from "commander";
import { BottleError } from "@bottle/errors";
import type { BottleBackend, BottleListing, CleanupReport, DoctorCheck, DoctorReport } from "@bottle/backend";
import { bottlePhase, listMetadata, pidAlive, retireState, stateDirFor, writeMetadata, type BottleMetadata } from "@bottle/state";
import { allBackends, backendFor, DEFAULT_BACKEND } from "../backends.js";
import { PassExitCode } from "../exit.js";
import type { Output } from "../output.js";
import { progressPrinter } from "../progress.js";
import { stopBottle } from "../steer.js";
import { findTarget, planOf } from "../targets.js";

export function registerLifecycle(program: Command, output: Output): void {
  program
    .command("stop")
    .description("Stop a bottle: save its logs into the state dir, remove its containers and networks")
    .argument("<bottle>", "bottle name or slug")
    .option("--json", "print what was removed as JSON")
    .addHelpText("after", "\nExamples:\n  $ bottle stop implementer\n  $ bottle stop implementer-1a2b3c4d --json")
    .action(async (bottle: string, opts: { json?: boolean }) => {
      const target = await findTarget(bottle);
      const { metadata } = target;
      const report = await stopBottle(target, progressPrinter(output, { quiet: opts.json }));
      if (opts.json) output.json({ slug: metadata.slug, ...report });
      else output.out(`stopped ${metadata.slug}${report.logFile ? `; logs in ${report.logFile}` : ""}`);
    });

  program
    .command("ls")
    .description("List bottles: state of each bundle and agent, health")
    .option("--json", "print as JSON")
    .addHelpText("after", "\nExamples:\n  $ bottle ls\n  $ bottle ls --json | jq '.[].slug'")
    .action(async (opts: { json?: boolean }) => {
      const metadata = await listMetadata();
      const rows = (await listEverywhere(metadata, output)).map((r) => ({ ...r, phase: phaseOf(metadata, r.slug) }));
      if (opts.json) return output.json(rows);
      if (rows.length === 0) return output.out("no bottles running");
      // A bottle that has not finished starting is never shown as running: its agent is not
      // fenced and provisioned yet (or never will be, if its start was interrupted).
      const table = [
        ["SLUG", "BOTTLE", "BACKEND", "STATE", "BUNDLE", "AGENT"],
        ...rows.map((r) => [r.slug, r.bottle, r.backend, r.phase, r.phase === "ready" ? describe(r.bundle) : r.phase, r.phase === "ready" ? describe(r.agent) : r.phase]),
      ];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      output.out(table.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n"));
    });

  program
    .command("logs")
    .description("Show a bottle's logs: the whole bundle, or one sidecar (egress, git-gate, supervise, pipelock), or the agent")
    .argument("<bottle>", "bottle name or slug")
    .argument("[sidecar]", "egress | git-gate | supervise | pipelock | agent")
    .option("--follow", "keep printing new lines")
    .option("--tail <n>", "only the last n lines")
    .addHelpText("after", "\nExamples:\n  $ bottle logs implementer\n  $ bottle logs implementer egress --follow")
    .action(async (bottle: string, sidecar: string | undefined, opts: { follow?: boolean; tail?: string }) => {
      const { metadata } = await findTarget(bottle);
      const backend = await backendFor(metadata);
      unsupported(backend, metadata.slug, [
        [sidecar !== undefined && sidecar !== "agent" && !backend.supports.sidecarLogs, `logs of one sidecar (${sidecar})`, `\`bottle logs ${metadata.slug}\` shows the whole bundle`],
        [Boolean(opts.follow) && !backend.supports.followLogs, "logs --follow", "run it again without --follow"],
      ]);
      const code = await backend.logs(metadata.slug, { ...(sidecar ? { sidecar } : {}), ...(opts.follow ? { follow: true } : {}), ...(opts.tail ? { tail: Number(opts.tail) } : {}) });
      if (code !== 0) throw new PassExitCode(code);
    });

  program
    .command("exec")
    .description("Run a command in a bottle's agent container (as the agent user)")
    .argument("<bottle>", "bottle name or slug")
    .argument("<command...>", "command and arguments (put them after --)")
    .option("-u, --user <user>", "user to run as (default: node)")
    .addHelpText("after", "\nExamples:\n  $ bottle exec implementer -- claude\n  $ bottle exec implementer -- git -C /workspace status")
    .action(async (bottle: string, command: string[], opts: { user?: string }) => {
      const { metadata } = await findTarget(bottle);
      const phase = bottlePhase(metadata, pidAlive);
      if (phase !== "ready") {
        throw new BottleError(`bottle ${metadata.slug} is ${phase === "starting" ? "still starting" : phase === "interrupted" ? "not ready: its start was interrupted" : "stopped"}; its agent is not fenced and provisioned`, {
          code: "BOTTLE_NOT_READY",
          hint: phase === "starting" ? "Wait for `bottle start` to finish." : "Remove it with `bottle cleanup`, then start it again.",
        });
      }
      const { exitCode: code } = await (await backendFor(metadata)).exec(metadata.slug, { command, ...(opts.user ? { user: opts.user } : {}), stdio: "inherit" });
      if (code !== 0) throw new PassExitCode(code);
    });

  program
    .command("cleanup")
    .description("Remove containers, networks and state left by bottles whose CLI died or whose start never finished")
    .argument("[bottle]", "only this bottle (slug, or a name `bottle ls` knows); default: every bottle")
    .option("--json", "print what was removed as JSON")
    .addHelpText("after", "\nExamples:\n  $ bottle cleanup\n  $ bottle cleanup implementer-1a2b3c4d --json")
    .action(async (only: string | undefined, opts: { json?: boolean }) => {
      const slug = only === undefined ? undefined : await findTarget(only).then((t) => t.metadata.slug, () => only);
      const inScope = (s: string) => slug === undefined || s === slug;
      const metadata = await listMetadata();
      const report: CleanupReport = { bottles: [], failures: [] };
      for (const backend of await allBackends()) {
        try {
          const part = await backend.cleanup(slug === undefined ? {} : { slug });
          report.bottles.push(...part.bottles);
          report.failures.push(...part.failures);
        } catch (error) {
          // the default backend must answer; another that cannot (not installed) has nothing to clean
          if (backend.name === DEFAULT_BACKEND) throw error;
          if (metadata.some((m) => m.backend === backend.name && !m.stoppedAt && inScope(m.slug))) output.err(`warning: cannot clean up ${backend.name} bottles: ${(error as Error).message}`);
        }
      }
      // state dirs whose bottle has nothing running any more: mark stopped, drop secrets
      const running = new Set((await listEverywhere(metadata, output)).map((r) => r.slug));
      const retired: string[] = [];
      for (const metadata of await listMetadata()) {
        if (metadata.stoppedAt || running.has(metadata.slug) || !inScope(metadata.slug)) continue;
        // a start still in progress (nothing in the engine yet) keeps its state and secrets
        if (bottlePhase(metadata, pidAlive) === "starting") continue;
        const stateDir = stateDirFor(metadata.slug);
        const { pid: _pid, ...rest } = metadata;
        await writeMetadata(stateDir, { ...rest, stoppedAt: new Date().toISOString() });
        await retireState(stateDir);
        retired.push(metadata.slug);
      }
      const result = { ...report, retiredState: retired };
      // every orphan was tried; the ones that failed are reported and fail the command
      const failed = () => {
        if (report.failures.length) throw new PassExitCode(1);
      };
      if (opts.json) {
        output.json(result);
        return failed();
      }
      for (const f of report.failures) output.err(`could not clean up ${f.slug}: ${f.error}`);
      const removed = report.bottles.map((b) => `${b.slug} (${b.reason})`);
      output.out(
        removed.length || retired.length
          ? [
              ...removed.map((r) => `removed the machines and networks of ${r}`),
              ...retired.map((slug) => `retired the state of ${slug} (nothing running; secrets removed, logs kept)`),
            ].join("\n")
          : report.failures.length
            ? "nothing else to clean up"
            : "nothing to clean up",
      );
      failed();
    });

  program
    .command("doctor")
    .description("Check what each backend needs: Docker engine, compose flavour, images, gVisor runsc (optional); smolvm and KVM (optional)")
    .option("--json", "print as JSON")
    .action(async (opts: { json?: boolean }) => {
      // each backend's checks; only the default backend (docker) must pass, the others are optional
      const reports: DoctorReport[] = [];
      for (const backend of await allBackends()) {
        reports.push(await backend.doctor().catch((error: Error) => ({ backend: backend.name, ok: false, checks: [{ name: backend.name, ok: false, detail: error.message }] })));
      }
      const required = (r: DoctorReport) => r.backend === DEFAULT_BACKEND;
      const ok = reports.filter(required).every((r) => r.ok);
      if (opts.json) output.json({ ok, ...Object.fromEntries(reports.map((r) => [r.backend, r])) });
      else {
        const line = (c: DoctorCheck, optional: boolean) => `${c.ok ? "ok  " : optional || c.optional ? "--  " : "FAIL"} ${c.name}: ${c.detail}${c.hint ? `\n     hint: ${c.hint}` : ""}`;
        output.out(reports.flatMap((r) => [`${r.backend} backend${required(r) ? "" : " (optional)"}:`, ...r.checks.map((c) => `  ${line(c, !required(r))}`)]).join("\n"));
      }
      if (!ok) throw new PassExitCode(1);
    });
}

/** Where a bottle stands, from its metadata (a bottle without any is taken as ready). */
function phaseOf(metadata: BottleMetadata[], slug: string): "ready" | "starting" | "interrupted" | "stopped" {
  const m = metadata.find((x) => x.slug === slug);
  return m ? bottlePhase(m, pidAlive) : "ready";
}

/**
 * Every backend's bottles. The default backend must answer; another that cannot (e.g.
 * smolvm not installed) counts as having none, with a warning when a bottle was started on it.
 */
async function listEverywhere(metadata: BottleMetadata[], output: Output): Promise<BottleListing[]> {
  const rows: BottleListing[] = [];
  for (const backend of await allBackends()) {
    try {
      rows.push(...(await backend.list()));
    } catch (error) {
      if (backend.name === DEFAULT_BACKEND) throw error;
      if (metadata.some((m) => m.backend === backend.name && !m.stoppedAt)) output.err(`warning: cannot list ${backend.name} bottles: ${(error as Error).message}`);
    }
  }
  return rows;
}

/** Refuses what the bottle's backend declares it cannot do, with the declared reason. */
function unsupported(backend: BottleBackend, slug: string, cases: Array<[boolean, string, string]>): void {
  for (const [refused, what, hint] of cases) {
    if (refused) throw new BottleError(`${what} is not supported on the ${backend.name} backend (bottle ${slug})`, { code: "BACKEND_UNSUPPORTED", hint });
  }
}

function describe(status: { state: string; health?: string } | undefined): string {
  if (!status) return "-";
  return status.health ? `${status.state} (${status.health})` : status.state;
}
