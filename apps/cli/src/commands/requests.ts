import type { Command } from "commander";
import type { SuperviseRequest } from "@bottle/supervise";

// the MCP SDK behind @bottle/supervise is heavy; only these commands need its store
const supervise = () => import("@bottle/supervise");
import { listMetadata, stateDirFor, stateLayout } from "@bottle/state";
import type { Output } from "../output.js";
import { applyRoutes, approveRequest, decidedBy, denyRequest, findRequest, revokeRoute } from "../steer.js";
import { findTarget } from "../targets.js";

const list = (text: string | undefined) => (text ? text.split(",").map((x) => x.trim()).filter(Boolean) : undefined);

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
    .option("--methods <list>", "approve only these methods, e.g. GET,HEAD (a subset of what was asked)")
    .option("--paths <list>", "approve only these path prefixes, e.g. /v1/,/docs/")
    .option("--json", "print the decided request as JSON")
    .addHelpText("after", "\nExamples:\n  $ bottle approve req-1a2b3c4d\n  $ bottle approve req-1a2b3c4d --methods GET --paths /v1/\n  $ bottle approve req-5e6f7a8b --answer 'yes, use the staging DB'")
    .action(async (id: string, opts: { reason?: string; answer?: string; methods?: string; paths?: string; json?: boolean }) => {
      const { describeRequest } = await supervise();
      const target = await findRequest(id);
      const methods = list(opts.methods);
      const paths = list(opts.paths);
      const narrow = methods || paths ? { ...(methods ? { methods } : {}), ...(paths ? { paths } : {}) } : undefined;
      const decided = await approveRequest(target, id, { by: decidedBy("cli"), ...(opts.reason ? { reason: opts.reason } : {}), ...(opts.answer ? { answer: opts.answer } : {}), ...(narrow ? { narrow } : {}) });
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
      const { describeRequest } = await supervise();
      const target = await findRequest(id);
      const decided = await denyRequest(target, id, { by: decidedBy("cli"), ...(opts.reason ? { reason: opts.reason } : {}) });
      if (opts.json) output.json(decided);
      else output.out(`denied ${id}: ${describeRequest(decided)}`);
    });

  program
    .command("revoke")
    .description("Take back an approved egress route, live (routes replaced by rename, SIGHUP to the bundle)")
    .argument("<id>", "id of the approved request (req-xxxxxxxx)")
    .option("--reason <text>", "why, shown to the agent")
    .option("--json", "print the request as JSON")
    .addHelpText("after", "\nExample:\n  $ bottle revoke req-1a2b3c4d --reason 'task done'")
    .action(async (id: string, opts: { reason?: string; json?: boolean }) => {
      const { describeRequest } = await supervise();
      const target = await findRequest(id);
      const revoked = await revokeRoute(target, id, { by: decidedBy("cli"), ...(opts.reason ? { reason: opts.reason } : {}) });
      if (opts.json) output.json(revoked);
      else output.out(`revoked ${id}: ${describeRequest(revoked)}`);
    });

  program
    .command("apply")
    .description("Re-render a running bottle's routes from the edited manifest and reload egress live (approved routes are kept)")
    .argument("<bottle>", "bottle name or slug")
    .option("--json", "print the routes now in force as JSON")
    .addHelpText("after", "\nExample:\n  $ $EDITOR bottle.json && bottle apply implementer")
    .action(async (bottle: string, opts: { json?: boolean }) => {
      const { slug, routes } = await applyRoutes(await findTarget(bottle), decidedBy("cli"));
      const hosts = routes.map((r) => r.host);
      if (opts.json) output.json({ slug, routes });
      else output.out(`applied ${hosts.length} route${hosts.length === 1 ? "" : "s"} to ${slug}: ${hosts.join(", ") || "none (deny all)"}`);
    });
}
