import type { Command } from "commander";
import type { Output } from "../output.js";
import { findTarget } from "../targets.js";

export function registerAudit(program: Command, output: Output): void {
  program
    .command("audit")
    .description("Show a bottle's activity: egress decisions, pushes and fetches, requests and decisions, route changes — merged, in order, linked by ids")
    .argument("<bottle>", "bottle name or slug (stopped bottles too, while their state dir exists)")
    .option("--follow", "keep printing new records as they happen (Ctrl-C ends)")
    .option("--json", "one JSON record per line (schema: docs/audit.md)")
    .option("--since <when>", "only records since a duration ago (30s, 10m, 2h, 1d) or an ISO time")
    .addHelpText(
      "after",
      "\nEach record has an id; [req-…] groups a story (the denial, the agent's request, the decision,\nthe route change, the first request that used it) and ← names the record it follows from.\n\nExamples:\n  $ bottle audit implementer --since 10m\n  $ bottle audit implementer --follow\n  $ bottle audit implementer --json | jq 'select(.outcome == \"block\")'",
    )
    .action(async (bottle: string, opts: { follow?: boolean; json?: boolean; since?: string }) => {
      const { AUDIT_TABLE_HEADER, createAuditReader, formatAuditLine, parseSince } = await import("@bottle/audit");
      const since = opts.since ? parseSince(opts.since) : undefined;
      const { layout } = await findTarget(bottle);
      const reader = createAuditReader(layout.root, since ? { since } : {});
      const print = (events: Awaited<ReturnType<typeof reader.poll>>) => {
        for (const e of events) output.out(opts.json ? JSON.stringify(e) : formatAuditLine(e));
      };
      const first = await reader.poll();
      if (!opts.json && (first.length > 0 || opts.follow)) output.out(AUDIT_TABLE_HEADER);
      print(first);
      if (!opts.follow) {
        if (first.length === 0 && !opts.json) output.out(since ? `no activity since ${since.toISOString()}` : "no activity yet");
        return;
      }
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        while (!stop.signal.aborted) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          print(await reader.poll());
        }
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
