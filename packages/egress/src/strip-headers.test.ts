// The model route: whatever credential the agent sends (placeholder, or a real-looking key
// it typed) is dropped and replaced by the injected one; it never reaches the upstream.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EgressProxy } from "./proxy.js";
import { parseRoutesFile, renderRoutesFile } from "./routes.js";
import { makeWorkspace, proxiedHttps, route, startUpstream, type Upstream, type Workspace, startWorkspaceProxy } from "./__fixtures__/harness.js";

const API_KEY = "sk-ant-api03-real-key-held-by-egress-only";
const OAUTH = "sk-ant-oat01-real-subscription-token-held-by-egress";

let upstream: Upstream;
let ws: Workspace;
let proxy: EgressProxy;

beforeAll(async () => {
  upstream = await startUpstream();
  ws = await makeWorkspace(upstream.caPem, { "model.key": API_KEY, "model.oauth": OAUTH }, [
    route({ id: "model-key", host: "api.test", inject: [{ header: "x-api-key", secret: "model.key", prefix: "" }], stripHeaders: ["x-api-key", "authorization"] }),
    route({ id: "model-oauth", host: "new.test", inject: [{ header: "authorization", secret: "model.oauth", prefix: "Bearer " }], stripHeaders: ["x-api-key", "authorization"] }),
  ]);
  proxy = await startWorkspaceProxy(ws);
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
  await ws?.cleanup();
});

const send = (host: string, headers: Record<string, string>) =>
  proxiedHttps({ proxyPort: proxy.port, ca: ws.caPem, host, port: upstream.port, path: "/v1/messages", method: "POST", body: "{}", headers });

describe("stripHeaders on a model route", () => {
  it("api-key: drops the agent's x-api-key and authorization, sends only the real key", async () => {
    const res = await send("api.test", { "x-api-key": "bottle-placeholder", authorization: "Bearer sk-ant-api03-typed-by-the-agent" });
    expect(res.status).toBe(200);
    const seen = upstream.seen.at(-1)!;
    expect(seen.headers["x-api-key"]).toBe(API_KEY);
    expect(seen.headers["authorization"]).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toMatch(/placeholder|typed-by-the-agent/);
  });

  it("oauth-token: replaces the Bearer value and drops an x-api-key the agent adds", async () => {
    const res = await send("new.test", { authorization: "Bearer bottle-placeholder", "X-Api-Key": "sk-ant-api03-typed-by-the-agent" });
    expect(res.status).toBe(200);
    const seen = upstream.seen.at(-1)!;
    expect(seen.headers["authorization"]).toBe(`Bearer ${OAUTH}`);
    expect(seen.headers["x-api-key"]).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toMatch(/placeholder|typed-by-the-agent/);
  });
});

describe("stripHeaders in the routes file", () => {
  const model = route({ id: "model", host: "api.test", stripHeaders: ["x-api-key", "authorization"] });

  it("round-trips, and stays absent where none is given", () => {
    const parsed = parseRoutesFile(renderRoutesFile({ routes: [model, route({ id: "plain", host: "other.test" })] }));
    expect(parsed.routes[0]!.stripHeaders).toEqual(["x-api-key", "authorization"]);
    expect(parsed.routes[1]).not.toHaveProperty("stripHeaders");
  });

  it("refuses anything but lower-case header names", () => {
    for (const bad of [["X-Api-Key"], ["a b"], "authorization", [1]]) {
      expect(() => parseRoutesFile(JSON.stringify({ version: 1, routes: [{ ...model, stripHeaders: bad }] }))).toThrow(/stripHeaders/);
    }
  });
});
