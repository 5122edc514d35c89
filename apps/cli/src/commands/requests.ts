import type { Command } from "commander";
import { BottleError } from "@bottle/errors";
import type { SuperviseRequest } from "@bottle/supervise";

// the MCP SDK behind @bottle/supervise is heavy; only these commands need its store
const supervise = () => import("@bottle/supervise");
import { addApprovedRoute, listMetadata, readApprovedRoutes, stateDirFor, stateLayout, writeRoutes } from "@bottle/state";
import { backendFor } from "../backends.js";
import type { Output } from "../output.js";
import { findTarget, planOf, type Target } from "../targets.js";

export function registerRequests(program: Command, output: Output): void {
  program
    .command("requests")
    .description("List what agents asked for over supervise (routes, questions)")
    .argument("[bottle]", "bottle name or slug (default: every running bottle)")
    .option("--all", "include decided requests")
    .option("--json", "print as JSON")
    .addHelpText("after", "\nExamples:\n  $ bottle requests\n  $ bottle requests implementer --all --json")
    .action(async (bottle: string | undefined, opts: { all?: boolean; json?: boolean }) => {
      const { describeRequest, listRequests } = await supervise();
      const targets = bottle ? [await findTarget(bottle)] : (await listMetadata()).filter((m) => !m.stoppedAt).map((m) => ({ metadata: m, layout: stateLayout(stateDirFor(m.slug)) }));
      const rows: Array<SuperviseRequest & { slug: string }> = [];
      for (const t of targets) for (const r of await listRequests(t.layout.requests)) if (opts.all || r.status === "pending") rows.push({ ...r, slug: t.metadata.slug });
      if (opts.json) return output.json(rows);
      if (rows.length === 0) return output.out(opts.all ? "no requests" : "no pending requests");
      output.out(rows.map((r) => `${r.id}  ${r.slug}  ${r.status.padEnd(8)}  ${describeRequest(r)}`).join("\n"));
    });

  program
    .command("approve")
    .description("Approve a request; an egress route is applied live (routes replaced by rename, SIGHUP to the bundle)")
    .argument("<id>", "request id (req-xxxxxxxx)")
    .option("--reason <text>", "note shown to the agent")
    .option("--answer <text>", "answer to an ask_human question")
    .option("--json", "print the decided request as JSON")
    .addHelpText("after", "\nExamples:\n  $ bottle approve req-1a2b3c4d\n  $ bottle approve req-5e6f7a8b --answer 'yes, use the staging DB'")
    .action(async (id: string, opts: { reason?: string; answer?: string; json?: boolean }) => {
      const { describeRequest, decideRequest, readRequest, routeFromApprovedRequest } = await supervise();
      const target = await findRequest(id);
      const request = await readRequest(target.layout.requests, id);
      if (request.kind === "egress-route" && request.status === "pending") {
        // Apply before recording the decision, so an agent that sees "approved" can use it at once.
        const route = routeFromApprovedRequest({ ...request, status: "approved" });
        const plan = await planOf(target.metadata);
        const approved = await addApprovedRoute(target.layout, route);
        await writeRoutes(target.layout, plan, approved);
        await backendFor(plan).reload(plan, target.layout);
      }
      const decided = await decideRequest(target.layout.requests, id, { approve: true, ...(opts.reason ? { reason: opts.reason } : {}), ...(opts.answer ? { answer: opts.answer } : {}) });
      if (opts.json) output.json(decided);
      else output.out(`approved ${id}: ${describeRequest(decided)}`);
    });

  program
    .command("deny")
    .description("Deny a request; the agent sees the reason")
    .argument("<id>", "request id (req-xxxxxxxx)")
    .option("--reason <text>", "why, shown to the agent")
    .option("--json", "print the decided request as JSON")
    .addHelpText("after", "\nExample:\n  $ bottle deny req-1a2b3c4d --reason 'use the internal mirror instead'")
    .action(async (id: string, opts: { reason?: string; json?: boolean }) => {
      const { describeRequest, decideRequest } = await supervise();
      const target = await findRequest(id);
      const decided = await decideRequest(target.layout.requests, id, { approve: false, ...(opts.reason ? { reason: opts.reason } : {}) });
      if (opts.json) output.json(decided);
      else output.out(`denied ${id}: ${describeRequest(decided)}`);
    });

  program
    .command("apply")
    .description("Re-render a running bottle's routes from the edited manifest and reload egress live (approved routes are kept)")
    .argument("<bottle>", "bottle name or slug")
    .option("--json", "print the routes now in force as JSON")
    .addHelpText("after", "\nExample:\n  $ $EDITOR bottle.json && bottle apply implementer")
    .action(async (bottle: string, opts: { json?: boolean }) => {
      const target = await findTarget(bottle);
      const plan = await planOf(target.metadata);
      const approved = await readApprovedRoutes(target.layout);
      await writeRoutes(target.layout, plan, approved);
      await backendFor(plan).reload(plan, target.layout);
      const hosts = [...plan.routes, ...approved].map((r) => r.host);
      if (opts.json) output.json({ slug: plan.slug, routes: [...plan.routes, ...approved] });
      else output.out(`applied ${hosts.length} route${hosts.length === 1 ? "" : "s"} to ${plan.slug}: ${hosts.join(", ") || "none (deny all)"}`);
    });
}

async function findRequest(id: string): Promise<Target> {
  const { listRequests } = await supervise();
  for (const metadata of await listMetadata()) {
    const layout = stateLayout(stateDirFor(metadata.slug));
    const ids = (await listRequests(layout.requests)).map((r) => r.id);
    if (ids.includes(id)) return findTarget(metadata.slug);
  }
  throw new BottleError(`no request ${id} in any bottle`, { code: "CLI_UNKNOWN_REQUEST", hint: "`bottle requests --all` lists them" });
}
