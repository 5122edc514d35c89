import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { BottleError } from "@bottle/errors";
import { LABELS } from "@bottle/plan";
import { bottlePhase, listMetadata, pidAlive, retireState, stateDirFor, writeMetadata } from "@bottle/state";
import { backendFor, loadDocker, loadSmolvm } from "../backends.js";
import { PassExitCode } from "../exit.js";
import type { Output } from "../output.js";
import { progressPrinter } from "../progress.js";
import { stopBottle } from "../steer.js";
import { findTarget, planOf } from "../targets.js";
import { imageTags } from "../images.js";

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
      const [dockerBackend, smolvmBackend] = await Promise.all([loadDocker(), loadSmolvm()]);
      const smolvmRows = await smolvmBackend.list().catch(() => []);
      const rows = [
        ...(await dockerBackend.list()).map((r) => ({ ...r, backend: "docker", phase: r.phase ?? ("ready" as const) })),
        ...smolvmRows.map((r) => ({
          slug: r.slug,
          bottle: r.bottle,
          backend: "smolvm",
          bundle: r.machines.find((m) => m.role === "bundle") ? { state: r.machines.find((m) => m.role === "bundle")!.state } : undefined,
          agent: r.machines.find((m) => m.role === "agent") ? { state: r.machines.find((m) => m.role === "agent")!.state } : undefined,
          phase: smolvmPhase(r.slug),
        })),
      ];
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
      const code = await backendFor(metadata).logs(metadata.slug, { ...(sidecar ? { sidecar } : {}), ...(opts.follow ? { follow: true } : {}), ...(opts.tail ? { tail: Number(opts.tail) } : {}) });
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
      const code = await backendFor(metadata).exec(metadata.slug, command, opts.user);
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
      const [dockerBackend, smolvmBackend] = await Promise.all([loadDocker(), loadSmolvm()]);
      const report = await dockerBackend.cleanup(slug === undefined ? {} : { labels: { [LABELS.slug]: slug } });
      // smolvm machines of bottles nobody holds (only when smolvm is installed)
      const smolvmRemoved = await smolvmBackend.cleanup({ keep: (s) => !inScope(s) || holderAlive(s) }).catch(() => [] as string[]);
      // state dirs whose bottle has nothing running any more: mark stopped, drop secrets
      const running = new Set([...(await dockerBackend.list()).map((r) => r.slug), ...(await smolvmBackend.list().catch(() => [])).map((r) => r.slug)]);
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
      const result = { ...report, smolvmMachines: smolvmRemoved, retiredState: retired };
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
        removed.length || smolvmRemoved.length || retired.length
          ? [
              ...removed.map((r) => `removed containers and networks of ${r}`),
              ...smolvmRemoved.map((m) => `removed smolvm machine ${m}`),
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
    .description("Check what bottle needs: Docker engine, compose flavour, images, KVM and smolvm")
    .option("--json", "print as JSON")
    .action(async (opts: { json?: boolean }) => {
      const [dockerBackend, smolvmBackend] = await Promise.all([loadDocker(), loadSmolvm()]);
      const tags = imageTags();
      const docker = await dockerBackend.doctor({ images: [tags.sidecars, tags.agent] });
      // smolvm is optional: its checks are reported, and fail the doctor only for smolvm bottles
      const smolvm = await smolvmBackend.doctor().catch((error: Error) => ({ backend: "smolvm" as const, ok: false, checks: [{ name: "smolvm", ok: false, detail: error.message }] }));
      if (opts.json) output.json({ ok: docker.ok, docker, smolvm });
      else {
        const line = (c: { ok: boolean; name: string; detail: string; hint?: string }, optional = false) =>
          `${c.ok ? "ok  " : optional ? "--  " : "FAIL"} ${c.name}: ${c.detail}${c.hint ? `\n     hint: ${c.hint}` : ""}`;
        output.out(["docker backend:", ...docker.checks.map((c) => `  ${line(c)}`), "smolvm backend (optional):", ...smolvm.checks.map((c) => `  ${line(c, true)}`)].join("\n"));
      }
      if (!docker.ok) throw new PassExitCode(1);
    });
}

/** The phase of a smolvm bottle from its metadata (smolvm's listing does not know it). */
function smolvmPhase(slug: string): "ready" | "starting" | "interrupted" | "stopped" {
  try {
    return bottlePhase(JSON.parse(readFileSync(`${stateDirFor(slug)}/metadata.json`, "utf8")) as { phase?: "starting" | "ready"; pid?: number; stoppedAt?: string }, pidAlive);
  } catch {
    return "ready";
  }
}

function describe(status: { state: string; health?: string } | undefined): string {
  if (!status) return "-";
  return status.health ? `${status.state} (${status.health})` : status.state;
}

/** Sync check used by smolvm cleanup: is the CLI that holds this bottle still alive? */
function holderAlive(slug: string): boolean {
  try {
    const meta = JSON.parse(readFileSync(`${stateDirFor(slug)}/metadata.json`, "utf8")) as { pid?: number; stoppedAt?: string };
    if (meta.stoppedAt) return false;
    if (meta.pid === undefined) return true; // detached: kept while it runs
    process.kill(meta.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
