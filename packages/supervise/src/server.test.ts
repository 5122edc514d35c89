import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decideRequest, readRequest, routeFromApprovedRequest, startSuperviseServer } from "./index.js";
import type { RunningSupervise } from "./index.js";

let dir: string;
let server: RunningSupervise;
let client: Client;

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), "bottle-supervise-")), "requests");
  server = await startSuperviseServer({ stateDir: dir, port: 0, host: "127.0.0.1", pollMs: 20, progressMs: 100 });
  client = new Client({ name: "supervise-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
});

afterEach(async () => {
  await client.close();
  await server.close();
  await rm(join(dir, ".."), { recursive: true, force: true });
});

type ToolResult = { content: { type: string; text: string }[]; isError?: boolean };
const call = async (name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args })) as ToolResult;
const textOf = (r: ToolResult) => r.content.map((c) => c.text).join("\n");

/** Resolves with the id of the first request file that appears. */
async function pendingId(): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^req-[0-9a-f]{8}\.json$/.test(n));
    if (names[0]) return names[0].slice(0, -5);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("no request file appeared");
}

describe("bottle-supervise over Streamable HTTP", () => {
  it("lists its tools with their input schemas", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["ask_human", "list_requests", "request_egress_route", "wait_for_request"]);
    const route = tools.find((t) => t.name === "request_egress_route")!;
    expect(Object.keys(route.inputSchema.properties ?? {}).sort()).toEqual(["host", "methods", "ports", "reason", "wait_seconds"]);
    expect([...(route.inputSchema.required ?? [])].sort()).toEqual(["host", "reason"]);
  });

  it("waits for an approval written by decideRequest and returns it", async () => {
    const calling = call("request_egress_route", {
      host: "API.Example.com",
      methods: ["get", "POST"],
      reason: "fetch the package index",
      wait_seconds: 60,
    });
    const id = await pendingId();
    const pending = await readRequest(dir, id);
    expect(pending).toMatchObject({
      id,
      kind: "egress-route",
      status: "pending",
      request: { host: "api.example.com", methods: ["GET", "POST"], ports: [443], reason: "fetch the package index" },
    });
    expect(pending.decision).toBeUndefined();
    await decideRequest(dir, id, { approve: true, reason: "read-only is fine" });
    const result = await calling;
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain(`Request ${id} approved: egress route to api.example.com port 443 (GET,POST) is allowed and already live`);
    expect(textOf(result)).toContain("Note from the human: read-only is fine");
    const approved = await readRequest(dir, id);
    expect(approved.status).toBe("approved");
    expect(routeFromApprovedRequest(approved)).toEqual({
      id: `approved-${id}`,
      host: "api.example.com",
      ports: [443],
      methods: ["GET", "POST"],
      paths: [],
      inject: [],
      passthrough: false,
      scan: true,
      onFinding: "block",
    });
  });

  it("sends progress notifications while it waits", async () => {
    let progressed!: () => void;
    const firstProgress = new Promise<void>((resolve) => (progressed = resolve));
    const messages: string[] = [];
    const calling = client.callTool({ name: "ask_human", arguments: { question: "go?", wait_seconds: 60 } }, undefined, {
      onprogress: (p) => {
        messages.push(p.message ?? "");
        progressed();
      },
      resetTimeoutOnProgress: true,
    });
    const id = await pendingId();
    await firstProgress;
    expect(messages[0]).toBe(`waiting for the human to decide ${id}`);
    await decideRequest(dir, id, { approve: true, answer: "go" });
    expect(textOf((await calling) as ToolResult)).toContain(`Question ${id} answered: go`);
  });

  it("returns a denial, and a question's answer", async () => {
    const denied = call("request_egress_route", { host: "*.evil.example", ports: [8443], reason: "x", wait_seconds: 60 });
    const routeId = await pendingId();
    await decideRequest(dir, routeId, { approve: false, reason: "not needed" });
    expect(textOf(await denied)).toContain(`Request ${routeId} denied: egress route to *.evil.example port 8443 (any method) stays blocked`);

    const asked = call("ask_human", { question: "Which branch?", wait_seconds: 60 });
    let questionId = routeId;
    while (questionId === routeId) {
      const names = (await readdir(dir)).filter((n) => n.endsWith(".json") && !n.startsWith(routeId));
      questionId = names[0]?.slice(0, -5) ?? routeId;
      await new Promise((r) => setTimeout(r, 25));
    }
    await decideRequest(dir, questionId, { approve: true, answer: "use agent/fix-42" });
    expect(textOf(await asked)).toContain(`Question ${questionId} answered: use agent/fix-42`);
  });

  it("says a request is still pending when the wait runs out, and lists requests", async () => {
    const first = await call("request_egress_route", { host: "registry.npmjs.org", reason: "npm install" });
    expect(textOf(first)).toMatch(/^Request req-[0-9a-f]{8} \(egress route to registry\.npmjs\.org port 443 \(any method\)\) is pending/);
    const id = await pendingId();
    const waited = await call("wait_for_request", { id, wait_seconds: 1 });
    expect(textOf(waited)).toContain(`Request ${id} (egress route to registry.npmjs.org port 443 (any method)) is pending`);

    await call("ask_human", { question: "ok to refactor?" });
    const listed = await call("list_requests", {});
    expect(textOf(listed).match(/^- /gm)).toHaveLength(2);
    await decideRequest(dir, id, { approve: false });
    const onlyDenied = textOf(await call("list_requests", { status: "denied" }));
    expect(onlyDenied).toContain(`- Request ${id} denied`);
    expect(onlyDenied).not.toContain("ok to refactor?");
    expect(textOf(await call("list_requests", { status: "approved" }))).toBe("No requests.");
  });

  it("rejects bad arguments with a readable error and files nothing", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ host: "https://x.example.com/path", reason: "r" }, 'is a URL; give the bare host name only (e.g. x.example.com)'],
      [{ host: "", reason: "r" }, "host is empty"],
      [{ reason: "r" }, "host is required"],
      [{ host: "api.example.com:8443", reason: "r" }, 'contains a port; give the host alone and the port in "ports"'],
      [{ host: "10.0.0.1", reason: "r" }, "is an IP address"],
      [{ host: "localhost", reason: "r" }, "single-label names are internal"],
      [{ host: "*.com", reason: "r" }, "single-label names are internal"],
      [{ host: "api.example.com", reason: "  " }, "reason is empty"],
      [{ host: "api.example.com", reason: "r", ports: [70000] }, "ports are 1-65535"],
      [{ host: "api.example.com", reason: "r", methods: ["FETCH"] }, "method must be one of GET"],
      [{ host: "api.example.com", reason: "r", wait_seconds: 601 }, "wait_seconds is at most 600"],
    ];
    for (const [args, message] of cases) {
      const result = await call("request_egress_route", args);
      expect(result.isError, JSON.stringify(args)).toBe(true);
      expect(textOf(result)).toContain(message);
    }
    expect(textOf(await call("wait_for_request", { id: "../../etc/passwd" }))).toContain("id looks like req-1a2b3c4d");
    expect(textOf(await call("wait_for_request", { id: "req-00000000" }))).toContain('No supervise request "req-00000000"');
    expect(await readdir(dir).catch(() => [])).toEqual([]);
  });

  it("answers only POST on /mcp (stateless)", async () => {
    const res = await fetch(server.url);
    expect(res.status).toBe(405);
    expect((await fetch(server.url.replace("/mcp", "/healthz"))).status).toBe(200);
  });
});
