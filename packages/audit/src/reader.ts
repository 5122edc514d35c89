import type { AuditRecord } from "@bottle/egress";
import { auditFiles } from "./files.js";
import { AuditLinker, byTime } from "./link.js";
import type { AuditEvent } from "./schema.js";
import { fromEgress, fromGate, fromRouteChange, fromSupervise, type GateRecord, type RouteChangeRecord } from "./sources.js";
import { JsonlTail } from "./tail.js";

// the MCP SDK behind @bottle/supervise is heavy; only the request store is needed
const superviseStore = () => import("@bottle/supervise");

export interface AuditReaderOptions {
  /** Only records at or after this instant are returned (links are still made across it). */
  since?: Date;
}

export interface AuditReader {
  /** Records that appeared since the last call (all of them on the first), time-ordered and linked. */
  poll(): Promise<AuditEvent[]>;
}

/**
 * Reads one bottle's activity across its sources, incrementally. Files only grow, so each
 * poll reads the new lines; supervise request files are re-listed (they are few) and only
 * records not returned before come back.
 */
export function createAuditReader(stateDir: string, options: AuditReaderOptions = {}): AuditReader {
  const files = auditFiles(stateDir);
  const rotated = new JsonlTail<AuditRecord>(files.egressRotated);
  const egress = new JsonlTail<AuditRecord>(files.egress);
  const gate = new JsonlTail<GateRecord>(files.gitGate);
  const routes = new JsonlTail<RouteChangeRecord>(files.routes);
  const linker = new AuditLinker();
  const seen = new Set<string>();
  const since = options.since?.toISOString();
  let first = true;

  return {
    async poll() {
      const { listRequests } = await superviseStore();
      const batch: AuditEvent[] = [];
      // loops, not spread: a 64 MiB log is hundreds of thousands of records
      // the rotated file only matters for the first read: later lines land in the live one
      if (first) for (const r of await rotated.read()) batch.push(fromEgress(r));
      first = false;
      for (const r of await egress.read()) batch.push(fromEgress(r));
      for (const r of await gate.read()) batch.push(fromGate(r));
      for (const r of await routes.read()) batch.push(fromRouteChange(r));
      for (const req of await listRequests(files.requests)) for (const e of fromSupervise(req)) batch.push(e);
      const fresh = batch.filter((e) => !seen.has(e.id));
      for (const e of fresh) seen.add(e.id);
      fresh.sort(byTime);
      for (const e of fresh) linker.add(e);
      return since ? fresh.filter((e) => e.time >= since) : fresh;
    },
  };
}

/** Every record of a bottle so far, time-ordered and linked. */
export async function readAudit(stateDir: string, options: AuditReaderOptions = {}): Promise<AuditEvent[]> {
  return createAuditReader(stateDir, options).poll();
}

export interface FollowOptions extends AuditReaderOptions {
  /** Default 500 ms. Polling, because the files are written from inside containers and VMs. */
  pollMs?: number;
  signal?: AbortSignal;
}

/** Calls `onEvents` with what exists, then with each new batch, until `signal` aborts. */
export async function followAudit(stateDir: string, onEvents: (events: AuditEvent[]) => void | Promise<void>, options: FollowOptions = {}): Promise<void> {
  const reader = createAuditReader(stateDir, options);
  const pollMs = options.pollMs ?? 500;
  while (!options.signal?.aborted) {
    const events = await reader.poll();
    if (events.length > 0) await onEvents(events);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done() {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", done);
        resolve();
      }
      options.signal?.addEventListener("abort", done, { once: true });
    });
  }
}
