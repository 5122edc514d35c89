import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EgressProxy } from "./proxy.js";
import { scanStats } from "./scan.js";
import { DEFAULT_CHUNKING } from "./scan-cache.js";
import { claudeBody, filler, growingSession } from "./__fixtures__/conversation.js";
import { ConnectAgent, makeWorkspace, route, startUpstream, TEST_HOSTS, type Upstream, type Workspace, startWorkspaceProxy } from "./__fixtures__/harness.js";
import https from "node:https";

// Regression tests for issue 11: egress's scan work per request must not grow with the number
// of requests served or with the length of the conversation. They count work, never time.

let upstream: Upstream;
let ws: Workspace;
let proxy: EgressProxy;
let agent: https.Agent;

beforeAll(async () => {
  upstream = await startUpstream();
  ws = await makeWorkspace(upstream.caPem, { "anthropic.key": "sk-ant-api03-work-test-key" }, [
    route({ id: "model", host: "api.test", methods: ["POST"], inject: [{ header: "x-api-key", secret: "anthropic.key", prefix: "" }], onFinding: "redact" }),
  ]);
  proxy = await startWorkspaceProxy(ws);
  agent = new ConnectAgent(proxy.port, { keepAlive: true, maxSockets: 1, ca: [ws.caPem] });
});

afterAll(async () => {
  agent?.destroy();
  await proxy?.close();
  await upstream?.close();
  await ws?.cleanup();
});

function post(body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: "api.test", port: upstream.port, method: "POST", path: "/v1/messages", agent, headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.once("error", reject);
    req.end(body);
  });
}

describe("scan work per request (issue 11)", () => {
  it("stays flat over 1,000 requests: same secretlint work for the last 100 as for the first 100, no retained performance entries", async () => {
    const perRequest: number[] = [];
    const entriesBefore = performance.getEntries().length;
    for (let i = 0; i < 1000; i++) {
      // A 16 KiB conversation whose newest tool result is new every time.
      const body = claudeBody([{ toolResult: filler(1, 12 * 1024) }, { toolResult: `request ${i}: ${filler(i + 2, 2048)}` }], true);
      const before = scanStats().chars;
      expect(await post(body)).toBe(200);
      perRequest.push(scanStats().chars - before);
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const first = sum(perRequest.slice(0, 100));
    const last = sum(perRequest.slice(-100));
    expect(last).toBeGreaterThan(0);
    expect(last).toBeLessThanOrEqual(first * 1.05);
    // secretlint's profiler would have left ~60 marks per call here.
    expect(performance.getEntries().length - entriesBefore).toBe(0);
  });

  it("scans a 50-turn conversation growing to 1 MiB about once in total, not once per turn", async () => {
    const turns = growingSession(50, 1024 * 1024, 7);
    const start = scanStats().chars;
    let sent = 0;
    for (let n = 1; n <= turns.length; n++) {
      const body = claudeBody(turns.slice(0, n));
      sent += body.length;
      expect(await post(body)).toBe(200);
    }
    const scanned = scanStats().chars - start;
    const overlap = DEFAULT_CHUNKING.maxChunk + DEFAULT_CHUNKING.rightOverlap;
    // Without the cache `scanned` would be `sent` (~25 MiB).
    expect(sent).toBeGreaterThan(20 * 1024 * 1024);
    expect(scanned).toBeLessThan(1.6 * 1024 * 1024 + 50 * 2 * overlap);
  });
});
