import { appendFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRequest, decideRequest, revokeRequest } from "@bottle/supervise";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditFiles, createAuditReader, formatAuditLine, parseSince, readAudit, recordRouteChange } from "./index.js";

let state: string;
beforeEach(async () => {
  state = await mkdtemp(path.join(tmpdir(), "bottle-audit-"));
  await mkdir(path.join(state, "bundle", "audit"), { recursive: true });
});
afterEach(async () => {
  await rm(state, { recursive: true, force: true });
});

const files = () => auditFiles(state);
const t = (s: number) => new Date(Date.UTC(2026, 10, 29, 22, 0, s)).toISOString();

function egressLine(id: string, s: number, host: string, decision: string, extra: Record<string, unknown> = {}) {
  return `${JSON.stringify({ time: t(s), id, client: "10.0.0.2", kind: "request", method: "GET", host, port: 443, path: "/x", decision, route: null, status: decision === "allow" ? 200 : 403, bytesIn: 0, bytesOut: 0, durationMs: 1, ...extra })}\n`;
}

describe("readAudit", () => {
  it("merges egress, supervise, route changes and git-gate in time order and links the story by ids", async () => {
    await appendFile(files().egress, egressLine("a-1", 1, "docs.example.com", "deny", { reason: "host" }));
    const req = await createRequest(files().requests, { kind: "egress-route", request: { host: "docs.example.com", methods: ["GET", "POST"], ports: [443], reason: "read the docs" } }, new Date(t(2)));
    await decideRequest(files().requests, req.id, { approve: true, by: "alice (cli)", narrow: { methods: ["GET"] } }, new Date(t(3)));
    await recordRouteChange(state, { change: "approve", routes: [{ id: `approved-${req.id}`, host: "docs.example.com" }], requestId: req.id, by: "alice (cli)" }, new Date(t(3)));
    await appendFile(files().egress, egressLine("a-2", 4, "docs.example.com", "allow", { route: `approved-${req.id}` }));
    await appendFile(files().egress, egressLine("a-3", 5, "api.example.com", "block-leak", { reason: "demo-key", route: "api" }));
    await appendFile(files().gitGate, `${JSON.stringify({ v: 1, time: t(6), id: "push-1", op: "push", repo: "app", decision: "reject", reason: "secrets found", refs: [{ ref: "refs/heads/main", old: "a".repeat(40), new: "b".repeat(40) }], findings: [{ at: "c.ini:2:1", rule: "aws" }] })}\n{"broken\n`);
    await appendFile(files().gitGate, `${JSON.stringify({ v: 1, time: t(7), id: "push-2", op: "push", repo: "app", decision: "accept", refs: [{ ref: "refs/heads/main", old: "a".repeat(40), new: "c".repeat(40) }] })}\n`);

    const events = await readAudit(state);
    expect(events.map((e) => [e.id, e.outcome])).toEqual([
      ["egress-a-1", "deny"],
      [`${req.id}:filed`, "pending"],
      [`${req.id}:approved`, "approve"],
      [expect.stringMatching(/^route-/), "approve"],
      ["egress-a-2", "allow"],
      ["egress-a-3", "block"],
      ["push-1", "reject"],
      ["push-2", "accept"],
    ]);
    const [denial, filed, approved, route, allowed, leak, rejected, accepted] = events;
    expect(denial!.thread).toBe(req.id);
    expect(filed!.links).toEqual(["egress-a-1"]);
    expect(approved!.links).toEqual([`${req.id}:filed`]);
    expect(approved!.summary).toBe("approved by alice (cli): docs.example.com narrowed to GET");
    expect(route!.links).toEqual([`${req.id}:approved`]);
    expect(allowed).toMatchObject({ thread: req.id, links: [route!.id] });
    expect(leak).toMatchObject({ reason: "demo-key", summary: "GET api.example.com/x → 403 (secret demo-key)" });
    expect(accepted!.links).toEqual([rejected!.id]);
    expect(rejected!.summary).toContain("1 finding: c.ini:2:1 aws");
    expect(formatAuditLine(allowed!)).toContain(`[${req.id}]  ← ${route!.id}`);
  });

  it("records a revocation and stops linking later use of the revoked route", async () => {
    const req = await createRequest(files().requests, { kind: "egress-route", request: { host: "x.example.com", methods: [], ports: [443], reason: "r" } }, new Date(t(1)));
    await decideRequest(files().requests, req.id, { approve: true }, new Date(t(2)));
    await revokeRequest(files().requests, req.id, { by: "bob (ui)", reason: "enough" }, new Date(t(3)));
    const events = await readAudit(state);
    expect(events.at(-1)).toMatchObject({ id: `${req.id}:revoked`, outcome: "revoke", links: [`${req.id}:approved`], summary: "revoked by bob (ui): x.example.com (enough)" });
  });

  it("returns only new records on each poll, across a rotation, and honours since", async () => {
    const reader = createAuditReader(state, { since: new Date(t(2)) });
    await appendFile(files().egress, egressLine("b-1", 1, "a.example.com", "allow") + egressLine("b-2", 3, "a.example.com", "allow"));
    expect((await reader.poll()).map((e) => e.id)).toEqual(["egress-b-2"]);
    expect(await reader.poll()).toEqual([]);
    // half a line is held back until it is complete
    const line = egressLine("b-3", 4, "a.example.com", "allow");
    await appendFile(files().egress, line.slice(0, 20));
    expect(await reader.poll()).toEqual([]);
    await appendFile(files().egress, line.slice(20));
    expect((await reader.poll()).map((e) => e.id)).toEqual(["egress-b-3"]);
    // egress rotates: the live file starts again
    await writeFile(files().egress, egressLine("c-1", 5, "a.example.com", "deny", { reason: "host" }));
    expect((await reader.poll()).map((e) => e.id)).toEqual(["egress-c-1"]);
  });
});

describe("parseSince", () => {
  it("reads durations and times, and refuses anything else with a hint", () => {
    const now = new Date("2026-11-29T22:00:00Z");
    expect(parseSince("10m", now).toISOString()).toBe("2026-11-29T21:50:00.000Z");
    expect(parseSince("2h", now).toISOString()).toBe("2026-11-29T20:00:00.000Z");
    expect(parseSince("2026-11-29T21:00:00Z", now).toISOString()).toBe("2026-11-29T21:00:00.000Z");
    expect(() => parseSince("yesterday", now)).toThrow(/neither a duration nor a time/);
  });
});
