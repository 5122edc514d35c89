import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startSuperviseServer, type RunningSupervise } from "./index.js";

// The pending cap against a hostile agent: many concurrent MCP clients, and one JSON-RPC
// batch of many calls (issue 13: 44 pending with a cap of 20 from one batch; 56–102 from
// 1,000 concurrent calls).
const CAP = 20;
let dir: string;
let server: RunningSupervise;

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), "bottle-supervise-cap-")), "requests");
  server = await startSuperviseServer({ stateDir: dir, port: 0, host: "127.0.0.1", maxPending: CAP, log: () => {} });
});

afterEach(async () => {
  await server.close();
  await rm(join(dir, ".."), { recursive: true, force: true });
});

const filed = async () => (await readdir(dir).catch(() => [] as string[])).filter((n) => /^req-[0-9a-f]{8}\.json$/.test(n)).length;

describe("the pending cap", () => {
  it("holds against 10 concurrent MCP clients making 100 calls at once", async () => {
    const clients = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const client = new Client({ name: `hostile-${i}`, version: "1.0.0" });
        await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
        return client;
      }),
    );
    try {
      const results = await Promise.all(
        clients.flatMap((client, i) =>
          Array.from({ length: 10 }, (_, j) =>
            client.callTool({ name: "request_egress_route", arguments: { host: `h${i}-${j}.example.com`, reason: "flood" } }) as Promise<{ isError?: boolean; content: { text: string }[] }>,
          ),
        ),
      );
      const refused = results.filter((r) => r.isError && r.content.some((c) => c.text.includes("pending requests")));
      expect(results.length - refused.length).toBe(CAP);
      expect(refused.length).toBe(100 - CAP);
      expect(await filed()).toBe(CAP);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it("counts every item of one JSON-RPC batch of 40 calls", async () => {
    const batch = Array.from({ length: 40 }, (_, i) => ({
      jsonrpc: "2.0",
      id: i + 1,
      method: "tools/call",
      params: { name: "request_egress_route", arguments: { host: `b${i}.example.com`, reason: "batch" } },
    }));
    const res = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify(batch),
    });
    await res.text();
    expect(await filed()).toBeLessThanOrEqual(CAP);
    // The batch was served (not rejected whole): the cap, not the parser, stopped it.
    expect(await filed()).toBe(CAP);
  });
});
