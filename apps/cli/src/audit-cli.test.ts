// `bottle audit`, `approve --methods`, `revoke` and `ui --port` as a user meets them, on a
// state dir made by hand (no engine: nothing here reloads a bundle).
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequest, decideRequest } from "@bottle/supervise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./index.js";
import { capture } from "./__fixtures__/capture.js";

const slug = "audited-0a1b2c3d";
let root: string;
let requests: string;
const previous = process.env.XDG_STATE_HOME;

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "bottle-cli-audit-"));
  process.env.XDG_STATE_HOME = root;
  const state = path.join(root, "bottle", slug);
  requests = path.join(state, "bundle", "requests");
  mkdirSync(requests, { recursive: true });
  mkdirSync(path.join(state, "bundle", "audit"), { recursive: true });
  writeFileSync(path.join(state, "metadata.json"), JSON.stringify({ version: 1, slug, bottle: "audited", backend: "docker", manifestPath: "/nonexistent/bottle.json", composeProject: "p", networks: {}, containers: {}, startedAt: new Date().toISOString() }));
  const rec = (id: string, decision: string, host: string, extra: object = {}) =>
    JSON.stringify({ time: new Date(Date.now() - 60_000).toISOString(), id, client: "c", kind: "request", method: "GET", host, port: 443, path: "/", decision, route: null, status: 403, bytesIn: 0, bytesOut: 0, durationMs: 1, ...extra });
  appendFileSync(path.join(state, "bundle", "audit", "egress.jsonl"), `${rec("x-1", "deny", "a.example.com", { reason: "host" })}\n${rec("x-2", "block-leak", "b.example.com", { reason: "route.b.key" })}\n`);
});

afterAll(() => {
  if (previous === undefined) delete process.env.XDG_STATE_HOME;
  else process.env.XDG_STATE_HOME = previous;
  rmSync(root, { recursive: true, force: true });
});

describe("bottle audit (CLI)", () => {
  it("prints a table with a header, then one line per record", async () => {
    const o = capture();
    expect(await runCli(["audit", "audited"], o)).toBe(0);
    const lines = o.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^TIME\s+SOURCE\s+OUTCOME\s+ID/);
    expect(lines.slice(1)).toEqual([expect.stringMatching(/egress\s+DENY\s+egress-x-1\s+GET a\.example\.com\/ → 403 \(no route for this host\)/), expect.stringMatching(/egress\s+BLOCK\s+egress-x-2\s+.*\(secret route\.b\.key\)/)]);
  });

  it("--json prints one versioned record per line; --since filters", async () => {
    const o = capture();
    expect(await runCli(["audit", slug, "--json"], o)).toBe(0);
    expect(o.stdout.trim().split("\n").map((l) => JSON.parse(l))).toMatchObject([{ v: 1, id: "egress-x-1", outcome: "deny" }, { v: 1, id: "egress-x-2", outcome: "block", reason: "route.b.key" }]);
    const recent = capture();
    expect(await runCli(["audit", slug, "--since", "10s"], recent)).toBe(0);
    expect(recent.stdout).toMatch(/^no activity since /);
  });

  it("a bad --since and an unknown bottle are user mistakes with a hint (exit 2)", async () => {
    const o = capture();
    expect(await runCli(["audit", slug, "--since", "last tuesday"], o)).toBe(2);
    expect(o.stderr).toContain('--since "last tuesday" is neither a duration nor a time');
    expect(o.stderr).toContain("hint: use a duration like 30s");
    expect(await runCli(["audit", "audtied"], o)).toBe(2);
    expect(o.stderr).toContain('did you mean "audited"?');
  });
});

describe("approve --methods, revoke, ui --port (CLI)", () => {
  it("refuses to widen an approval, before anything is applied", async () => {
    const req = await createRequest(requests, { kind: "egress-route", request: { host: "c.example.com", methods: ["GET"], ports: [443], reason: "r" } });
    const o = capture();
    expect(await runCli(["approve", req.id, "--methods", "POST"], o)).toBe(2);
    expect(o.stderr).toContain("POST was not asked for (the agent asked for GET)");
    expect(o.stdout).toBe("");
  });

  it("answers a question through the same path as the dashboard, recording who", async () => {
    const req = await createRequest(requests, { kind: "question", request: { question: "q?" } });
    const o = capture();
    expect(await runCli(["approve", req.id, "--answer", "yes", "--json"], o)).toBe(0);
    expect(JSON.parse(o.stdout)).toMatchObject({ status: "approved", decision: { answer: "yes", by: expect.stringMatching(/ \(cli\)$/) } });
  });

  it("revoke of something not approved says what can be revoked", async () => {
    const req = await createRequest(requests, { kind: "egress-route", request: { host: "d.example.com", methods: [], ports: [443], reason: "r" } });
    await decideRequest(requests, req.id, { approve: false });
    const o = capture();
    expect(await runCli(["revoke", req.id], o)).toBe(2);
    expect(o.stderr).toContain("is not an approved route in force");
  });

  it("ui --port outside 0-65535 is a user mistake", async () => {
    const o = capture();
    expect(await runCli(["ui", "--port", "70000", "--no-open"], o)).toBe(2);
    expect(o.stderr).toContain("hint:");
  });
});
