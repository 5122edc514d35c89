// Host-side decisions on a bottle, shared by the commands and the dashboard (`bottle ui`):
// one implementation of approving, denying, revoking, applying and stopping.
import os from "node:os";
import { BottleError } from "@bottle/errors";
import type { EgressRoutePlan } from "@bottle/plan";
import { addApprovedRoute, listMetadata, readApprovedRoutes, removeApprovedRoute, retireState, stateDirFor, stateLayout, writeRoutes } from "@bottle/state";
import type { Narrowing, SuperviseRequest } from "@bottle/supervise";
import { backendFor } from "./backends.js";
import type { ProgressLike } from "./progress.js";
import { findTarget, planOf, type Target } from "./targets.js";

// the MCP SDK behind @bottle/supervise is heavy; load its store on first use
const supervise = () => import("@bottle/supervise");
const audit = () => import("@bottle/audit");

/** Who decided, as recorded in request files and the audit stream. */
export function decidedBy(via: "cli" | "ui"): string {
  let user = process.env.USER ?? "";
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry: keep $USER
  }
  return `${user || "unknown"} (${via})`;
}

export interface ApproveInput {
  reason?: string;
  answer?: string;
  narrow?: Narrowing;
  by: string;
}

/** The started bottle that holds request `id`. */
export async function findRequest(id: string): Promise<Target> {
  const { listRequests } = await supervise();
  for (const metadata of await listMetadata()) {
    const layout = stateLayout(stateDirFor(metadata.slug));
    if ((await listRequests(layout.requests)).some((r) => r.id === id)) return findTarget(metadata.slug);
  }
  throw new BottleError(`no request ${id} in any bottle`, { code: "CLI_UNKNOWN_REQUEST", hint: "`bottle requests --all` lists them" });
}

/**
 * Approves a request. An egress route is applied first (routes replaced by rename, egress
 * reloaded), so an agent that reads "approved" can use it at once; then the decision is
 * recorded and the route change logged, both with the same instant.
 */
export async function approveRequest(target: Target, id: string, input: ApproveInput): Promise<SuperviseRequest> {
  const { checkNarrowing, decideRequest, readRequest, routeFromApprovedRequest } = await supervise();
  const now = new Date();
  const request = await readRequest(target.layout.requests, id);
  let route: EgressRoutePlan | undefined;
  if (request.kind === "egress-route" && request.status === "pending") {
    const narrowed = input.narrow ? checkNarrowing(request, input.narrow) : { methods: [], paths: [] };
    const decision = { at: now.toISOString(), ...(narrowed.methods.length ? { methods: narrowed.methods } : {}), ...(narrowed.paths.length ? { paths: narrowed.paths } : {}) };
    route = routeFromApprovedRequest({ ...request, status: "approved", decision });
    const plan = await planOf(target.metadata);
    const approved = await addApprovedRoute(target.layout, route);
    await writeRoutes(target.layout, plan, approved);
    await (await backendFor(plan)).reload(plan, target.layout);
  }
  const decided = await decideRequest(
    target.layout.requests,
    id,
    { approve: true, by: input.by, ...(input.reason ? { reason: input.reason } : {}), ...(input.answer ? { answer: input.answer } : {}), ...(input.narrow ? { narrow: input.narrow } : {}) },
    now,
  );
  if (route) {
    await (await audit()).recordRouteChange(target.layout.root, { change: "approve", routes: [{ id: route.id, host: route.host }], requestId: id, by: input.by, ...(input.reason ? { reason: input.reason } : {}) }, now);
  }
  return decided;
}

export async function denyRequest(target: Target, id: string, input: { reason?: string; by: string }): Promise<SuperviseRequest> {
  const { decideRequest } = await supervise();
  return decideRequest(target.layout.requests, id, { approve: false, by: input.by, ...(input.reason ? { reason: input.reason } : {}) });
}

/**
 * Takes an approved route out of force: routes re-rendered without it, egress reloaded,
 * revocation recorded. Re-approvals of a host widen one route (`mergeApprovedRoute`), so
 * the route in force for the request's host goes, and every approval merged into it is
 * marked revoked with it.
 */
export async function revokeRoute(target: Target, id: string, input: { reason?: string; by: string }): Promise<SuperviseRequest> {
  const { listRequests, readRequest, revokeRequest } = await supervise();
  const request = await readRequest(target.layout.requests, id);
  if (request.kind !== "egress-route" || request.status !== "approved" || request.revoked) {
    // the store's message and hint, before anything is touched
    return revokeRequest(target.layout.requests, id, input);
  }
  const host = request.request.host;
  const now = new Date();
  const plan = await planOf(target.metadata);
  const inForce = (await readApprovedRoutes(target.layout)).find((r) => r.id === `approved-${id}`) ?? (await readApprovedRoutes(target.layout)).find((r) => r.id.startsWith("approved-") && r.host === host);
  const approved = inForce ? await removeApprovedRoute(target.layout, inForce.id) : await readApprovedRoutes(target.layout);
  await writeRoutes(target.layout, plan, approved);
  await (await backendFor(plan)).reload(plan, target.layout);
  const note = { by: input.by, ...(input.reason ? { reason: input.reason } : {}) };
  const revoked = await revokeRequest(target.layout.requests, id, note, now);
  for (const other of await listRequests(target.layout.requests)) {
    if (other.id !== id && other.kind === "egress-route" && other.status === "approved" && !other.revoked && other.request.host === host) {
      await revokeRequest(target.layout.requests, other.id, note, now);
    }
  }
  await (await audit()).recordRouteChange(target.layout.root, { change: "revoke", routes: [{ id: inForce?.id ?? `approved-${id}`, host }], requestId: id, ...note }, now);
  return revoked;
}

/** Re-renders routes from the (edited) manifest plus the approved ones and reloads egress. */
export async function applyRoutes(target: Target, by: string): Promise<{ slug: string; routes: EgressRoutePlan[] }> {
  const plan = await planOf(target.metadata);
  const approved = await readApprovedRoutes(target.layout);
  await writeRoutes(target.layout, plan, approved);
  await (await backendFor(plan)).reload(plan, target.layout);
  const routes = [...plan.routes, ...approved];
  await (await audit()).recordRouteChange(target.layout.root, { change: "apply", routes: routes.map((r) => ({ id: r.id, host: r.host })), by });
  return { slug: plan.slug, routes };
}

export async function stopBottle(target: Target, onProgress: (event: ProgressLike) => void): Promise<{ logFile?: string }> {
  const plan = await planOf(target.metadata);
  const report = await (await backendFor(plan)).stop(plan, target.layout, onProgress);
  await retireState(target.layout.root);
  return report;
}

export type { RouteInForce } from "./ui/api-types.js";
import type { RouteInForce } from "./ui/api-types.js";

export async function routesInForce(target: Target): Promise<RouteInForce[]> {
  const { listRequests } = await supervise();
  const requests = new Map((await listRequests(target.layout.requests)).map((r) => [`approved-${r.id}`, r]));
  const approved = await readApprovedRoutes(target.layout);
  let manifest: EgressRoutePlan[] = [];
  try {
    manifest = (await planOf(target.metadata)).routes;
  } catch {
    // the manifest moved or no longer parses: show what was approved
  }
  const shape = (r: EgressRoutePlan) => ({ id: r.id, host: r.host, ports: r.ports, methods: r.methods, paths: r.paths, credential: r.inject.length > 0 });
  return [
    ...manifest.map((r) => ({ ...shape(r), origin: "manifest" as const })),
    ...approved.map((r) => {
      const req = requests.get(r.id);
      return {
        ...shape(r),
        origin: "approved" as const,
        ...(req ? { requestId: req.id, approvedAt: req.decision?.at, why: req.kind === "egress-route" ? req.request.reason : undefined } : {}),
        ...(req?.decision?.by ? { approvedBy: req.decision.by } : {}),
      } as RouteInForce;
    }),
  ];
}
