// What the dashboard reads, through the same host-side functions the commands use.
import type { AuditEvent, AuditReader } from "@bottle/audit";
import { listMetadata, stateDirFor, stateLayout, type BottleMetadata } from "@bottle/state";
import type { SuperviseRequest } from "@bottle/supervise";
import { routesInForce, type RouteInForce } from "../steer.js";
import type { Target } from "../targets.js";

const supervise = () => import("@bottle/supervise");
const audit = () => import("@bottle/audit");

export type { BottleSummary } from "./api-types.js";
import type { BottleSummary } from "./api-types.js";

export interface BottleDetail {
  summary: BottleSummary;
  routes: RouteInForce[];
  requests: SuperviseRequest[];
}

const HOUR = 3_600_000;
const KEEP = 2_000;

/**
 * One bottle's live state: an incremental audit reader, the last records (for pages that
 * open later) and the denial/block times of the last hour.
 */
class BottleFeed {
  readonly recent: AuditEvent[] = [];
  /** Records ever added (never decreases, unlike `recent`, which is trimmed). */
  total = 0;
  /** Read at least once (a stopped bottle's files no longer grow). */
  polled = false;
  private readonly problems: Array<{ at: number; kind: "deny" | "block" }> = [];
  private reader: AuditReader | undefined;

  constructor(readonly target: Target) {}

  async poll(): Promise<AuditEvent[]> {
    this.reader ??= (await audit()).createAuditReader(this.target.layout.root);
    const events = await this.reader.poll();
    this.polled = true;
    this.total += events.length;
    for (const e of events) {
      this.recent.push(e);
      if (e.outcome === "deny" && e.source === "egress") this.problems.push({ at: Date.parse(e.time), kind: "deny" });
      if (e.outcome === "block" || e.outcome === "reject") this.problems.push({ at: Date.parse(e.time), kind: "block" });
    }
    if (this.recent.length > KEEP) this.recent.splice(0, this.recent.length - KEEP);
    return events;
  }

  /** The records added after the first `seen` (as many as are still kept). */
  after(seen: number): AuditEvent[] {
    const missing = Math.min(this.total - seen, this.recent.length);
    return missing > 0 ? this.recent.slice(this.recent.length - missing) : [];
  }

  counts(now = Date.now()): { denied: number; blocked: number } {
    while (this.problems.length > 0 && this.problems[0]!.at < now - HOUR) this.problems.shift();
    return { denied: this.problems.filter((p) => p.kind === "deny").length, blocked: this.problems.filter((p) => p.kind === "block").length };
  }
}

export class DashboardModel {
  private readonly feeds = new Map<string, BottleFeed>();

  async metadata(): Promise<BottleMetadata[]> {
    return listMetadata();
  }

  targetOf(metadata: BottleMetadata): Target {
    return { metadata, layout: stateLayout(stateDirFor(metadata.slug)) };
  }

  feed(metadata: BottleMetadata): BottleFeed {
    let feed = this.feeds.get(metadata.slug);
    if (!feed || feed.target.metadata.stoppedAt !== metadata.stoppedAt) {
      const previous = feed;
      feed = new BottleFeed(this.targetOf(metadata));
      if (previous) {
        feed.recent.push(...previous.recent);
        feed.total = previous.total;
      }
      this.feeds.set(metadata.slug, feed);
    }
    return feed;
  }

  async summary(metadata: BottleMetadata): Promise<BottleSummary> {
    const { listRequests } = await supervise();
    const target = this.targetOf(metadata);
    const [requests, routes] = await Promise.all([listRequests(target.layout.requests), routesInForce(target)]);
    const { denied, blocked } = this.feed(metadata).counts();
    return {
      slug: metadata.slug,
      bottle: metadata.bottle,
      backend: metadata.backend,
      running: !metadata.stoppedAt,
      startedAt: metadata.startedAt,
      ...(metadata.stoppedAt ? { stoppedAt: metadata.stoppedAt } : {}),
      pending: requests.filter((r) => r.status === "pending").length,
      routes: routes.length,
      deniedLastHour: denied,
      blockedLastHour: blocked,
    };
  }

  async detail(metadata: BottleMetadata): Promise<BottleDetail> {
    const { listRequests } = await supervise();
    const target = this.targetOf(metadata);
    return { summary: await this.summary(metadata), routes: await routesInForce(target), requests: await listRequests(target.layout.requests) };
  }
}
