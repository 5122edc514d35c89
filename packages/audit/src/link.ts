import type { AuditEvent } from "./schema.js";

/** Does route host pattern `pattern` (`api.x.com` or `*.x.com`) cover `host`? */
export function hostCovers(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  return p.startsWith("*.") ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : p === h;
}

/**
 * Links records into stories, in time order, as they arrive: the denial the agent's route
 * request answers, the request, the human's decision, the route change, the first request
 * that used the approved route; a rejected push and the next accepted push to the same ref.
 * Stateful so `follow` can link records that arrive later to ones already shown.
 */
export class AuditLinker {
  /** Recent denials by host that no request has claimed yet. */
  private readonly denials: AuditEvent[] = [];
  /** Approved route id → the record a first use links to. */
  private readonly approvedRoutes = new Map<string, { thread: string; last: string; used: boolean }>();
  private readonly rejectedPushes = new Map<string, AuditEvent>();

  /** Sets `thread` and `links` on `event` (in place) and returns it. */
  add(event: AuditEvent): AuditEvent {
    if (event.source === "egress" && event.http) this.egress(event, event.http);
    else if (event.source === "supervise" && event.request) this.supervise(event, event.request);
    else if (event.source === "routes" && event.routes?.requestId) {
      const entry = this.approvedRoutes.get(`approved-${event.routes.requestId}`);
      if (entry && event.outcome === "approve") entry.last = event.id;
    } else if (event.source === "git-gate" && event.kind === "push" && event.git) this.push(event, event.git);
    return event;
  }

  private egress(event: AuditEvent, http: NonNullable<AuditEvent["http"]>) {
    if (event.outcome === "deny" && event.reason === "host") {
      this.denials.push(event);
      if (this.denials.length > 200) this.denials.shift();
    }
    const approved = http.route ? this.approvedRoutes.get(http.route) : undefined;
    if (approved) {
      event.thread = approved.thread;
      if (!approved.used && event.outcome === "allow") {
        approved.used = true;
        event.links = [...event.links, approved.last];
      }
    }
  }

  private supervise(event: AuditEvent, request: NonNullable<AuditEvent["request"]>) {
    if (request.kind !== "egress-route" || !request.host) return;
    if (event.outcome === "pending") {
      // the most recent unclaimed denial of a host this request covers
      for (let i = this.denials.length - 1; i >= 0; i--) {
        const denial = this.denials[i]!;
        if (denial.time <= event.time && hostCovers(request.host, denial.http!.host)) {
          this.denials.splice(i, 1);
          denial.thread = request.id;
          event.links = [denial.id, ...event.links];
          break;
        }
      }
    } else if (event.outcome === "approve") {
      this.approvedRoutes.set(`approved-${request.id}`, { thread: request.id, last: event.id, used: false });
    } else if (event.outcome === "revoke") {
      this.approvedRoutes.delete(`approved-${request.id}`);
    }
  }

  private push(event: AuditEvent, git: NonNullable<AuditEvent["git"]>) {
    const keys = git.refs.map((r) => `${git.repo} ${r.ref}`);
    if (event.outcome === "reject") {
      for (const key of keys) this.rejectedPushes.set(key, event);
      event.thread = event.id;
      return;
    }
    for (const key of keys) {
      const rejected = this.rejectedPushes.get(key);
      if (!rejected) continue;
      this.rejectedPushes.delete(key);
      event.thread = rejected.thread ?? rejected.id;
      if (!event.links.includes(rejected.id)) event.links = [...event.links, rejected.id];
    }
  }
}

/** Orders by time, then by id, so equal times read the same every time. */
export function byTime(a: AuditEvent, b: AuditEvent): number {
  // code-unit order (not localeCompare): ISO times sort as text, and this runs per record
  return cmp(a.time, b.time) || rank(a) - rank(b) || cmp(a.id, b.id);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// within the same millisecond: a request is filed before it is decided, decided before the route changes
const RANK: Record<string, number> = { pending: 0, approve: 1, deny: 1, answer: 1, revoke: 1 };
function rank(e: AuditEvent): number {
  if (e.source === "supervise") return RANK[e.outcome] ?? 1;
  return e.source === "routes" ? 2 : 3;
}
