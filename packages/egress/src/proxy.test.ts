import https from "node:https";
import type http from "node:http";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EgressProxy } from "./proxy.js";
import {
  connectTunnel,
  deferred,
  makeWorkspace,
  proxiedHttps,
  route,
  startUpstream,
  TEST_HOSTS,
  type Upstream,
  type Workspace,
  startWorkspaceProxy,
} from "./__fixtures__/harness.js";

// Characters that differ under every encoding (/, +, =, &, %, ~, space).
const SECRET = "sk-ant-api03-Zx9/Q+w=k&y%t~ real9";
const GH_TOKEN = "ghp_R3alT0kenValueX9aZ8bY7cW6dV5eU4fT3";
const DNS_SECRET = "MixedCaseDnsSecret42";

let upstream: Upstream;
let ws: Workspace;
let proxy: EgressProxy;

const baseRoutes = () => [
  route({
    id: "anthropic",
    host: "api.test",
    methods: ["GET", "POST"],
    paths: ["/v1/"],
    inject: [{ header: "x-api-key", secret: "anthropic.key", prefix: "" }],
  }),
  route({ id: "github", host: "*.gh.test", inject: [{ header: "authorization", secret: "gh.token", prefix: "Bearer " }] }),
  route({ id: "other", host: "other.test" }),
  route({ id: "noscan", host: "noscan.test", scan: false }),
];

beforeAll(async () => {
  upstream = await startUpstream();
  ws = await makeWorkspace(upstream.caPem, { "anthropic.key": SECRET, "gh.token": GH_TOKEN, "dns.secret": DNS_SECRET }, baseRoutes());
  proxy = await startWorkspaceProxy(ws);
  upstream.routes.set("/v1/echo-key", (req, res) => {
    // A careless upstream that echoes the credential back in a header.
    res.writeHead(200, { "x-echo": String(req.headers["x-api-key"]), "content-type": "text/plain" });
    res.end(`key ok: ${req.headers["x-api-key"] === SECRET}`);
  });
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
  await ws?.cleanup();
});

const get = (host: string, path: string, init: Partial<Parameters<typeof proxiedHttps>[0]> = {}) =>
  proxiedHttps({ proxyPort: proxy.port, ca: ws.caPem, host, port: upstream.port, path, ...init });

describe("allowed routes and credential injection", () => {
  it("injects the secret on its route; the upstream sees it, the client never does", async () => {
    const res = await get("api.test", "/v1/echo-key", { headers: { "x-api-key": "placeholder" } });
    expect(res.status).toBe(200);
    expect(res.body).toBe("key ok: true");
    expect(res.headers["x-echo"]).toBe("[redacted by bottle egress]");
    expect(JSON.stringify(res.rawHeaders) + res.body).not.toContain(SECRET);
    const seen = upstream.seen.at(-1)!;
    expect(seen.host).toBe("api.test");
    expect(seen.headers["x-api-key"]).toBe(SECRET);
  });

  it("replaces an injected credential echoed in a small response body", async () => {
    upstream.routes.set("/v1/echo-body", (req, res) => {
      const text = `you sent ${String(req.headers["x-api-key"])} twice: ${String(req.headers["x-api-key"])}`;
      res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(text) });
      res.end(text);
    });
    const res = await get("api.test", "/v1/echo-body");
    expect(res.status).toBe(200);
    expect(res.body).toBe("you sent [redacted by bottle egress] twice: [redacted by bottle egress]");
    expect(Number(res.headers["content-length"])).toBe(Buffer.byteLength(res.body));
  });

  it("injects a Bearer token on a wildcard route and replaces what the agent sent", async () => {
    const res = await get("api.gh.test", "/repos", { headers: { authorization: "Bearer fake" } });
    expect(res.status).toBe(200);
    expect(res.body).toBe("ok api.gh.test");
    const seen = upstream.seen.at(-1)!;
    expect(seen.headers["authorization"]).toBe(`Bearer ${GH_TOKEN}`);
  });

  it("answers 502 without details when the upstream cannot be reached", async () => {
    await ws.writeRoutes([...baseRoutes(), route({ id: "nowhere", host: "nowhere.test" })]);
    await proxy.reload();
    // Port 1 on loopback: nothing listens there.
    const res = await proxiedHttps({ proxyPort: proxy.port, ca: ws.caPem, host: "nowhere.test", port: 1, path: "/" });
    expect(res.status).toBe(502);
    expect(res.body).toContain("ECONNREFUSED");
    expect(res.body).toContain("nowhere.test");
    await ws.writeRoutes(baseRoutes());
    await proxy.reload();
  });

  it("writes audit lines without secrets or query values", async () => {
    await get("api.test", "/v1/echo-key?token=query-value-123");
    const isLine = (l: Record<string, unknown>) => l["path"] === "/v1/echo-key" && l["decision"] === "allow";
    const audit = await ws.readAudit((lines) => lines.some(isLine));
    const line = audit.find(isLine);
    expect(line).toMatchObject({ method: "GET", host: "api.test", port: upstream.port, route: "anthropic", status: 200 });
    expect(typeof line!["durationMs"]).toBe("number");
    expect(typeof line!["id"]).toBe("string");
    const text = JSON.stringify(audit);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain("query-value-123");
  });
});

describe("default deny", () => {
  it("answers 403 naming the host and the request_egress_route tool for an unknown host", async () => {
    const res = await get("unknown.test", "/anything");
    expect(res.status).toBe(403);
    expect(res.body).toContain("unknown.test");
    expect(res.body).toContain("request_egress_route");
    expect(res.body).toContain('"host": "unknown.test"');
    expect(upstream.seen.some((s) => s.host === "unknown.test")).toBe(false);
  });

  it("answers 403 for a method or path the route does not allow", async () => {
    const del = await get("api.test", "/v1/messages", { method: "DELETE" });
    expect(del.status).toBe(403);
    expect(del.body).toContain("method DELETE");
    expect(del.body).toContain("request_egress_route");
    const path = await get("api.test", "/admin");
    expect(path.status).toBe(403);
    expect(path.body).toContain("path /admin");
    const climb = await get("api.test", "/v1/../admin");
    expect(climb.status).toBe(403);
    const denies = (lines: Array<Record<string, unknown>>) => lines.filter((l) => l["decision"] === "deny" && l["host"] === "api.test").length;
    expect(denies(await ws.readAudit((lines) => denies(lines) >= 3))).toBeGreaterThanOrEqual(3);
  });
});

describe("leak blocking", () => {
  const raw = Buffer.from(SECRET);
  const encodings: Record<string, string> = {
    raw: SECRET,
    base64: raw.toString("base64"),
    base64url: raw.toString("base64url"),
    hex: raw.toString("hex"),
    "url-encoded": encodeURIComponent(SECRET),
  };
  const places = {
    url: (v: string) => ({ path: `/send?q=${v.includes("&") || v.includes(" ") ? encodeURIComponent(v) : v}`, method: "GET" }),
    header: (v: string) => ({ path: "/send", method: "GET", headers: { "x-note": v } }),
    body: (v: string) => ({ path: "/send", method: "POST", headers: { "content-type": "text/plain" }, body: `note=${v}` }),
  };

  for (const [encoding, value] of Object.entries(encodings)) {
    for (const [place, build] of Object.entries(places)) {
      it(`blocks the ${encoding} secret in the ${place} to another host`, async () => {
        const before = upstream.seen.length;
        const res = await get("other.test", "", build(value));
        expect(res.status).toBe(403);
        expect(res.headers["x-bottle-egress-decision"]).toBe("block-leak");
        expect(res.body).not.toContain(SECRET);
        expect(upstream.seen.length).toBe(before);
        const line = (await ws.readAudit((ls) => ls.some((l) => l["id"] === res.headers["x-bottle-request-id"]))).find((l) => l["id"] === res.headers["x-bottle-request-id"]);
        expect(line).toMatchObject({ decision: "block-leak", host: "other.test", reason: "anthropic.key" });
      });
    }
  }

  it("never writes a secret found in the path to the audit trail", async () => {
    const res = await get("other.test", `/bot${encodeURIComponent(SECRET)}/send`);
    expect(res.status).toBe(403);
    const line = (await ws.readAudit((ls) => ls.some((l) => l["id"] === res.headers["x-bottle-request-id"]))).find((l) => l["id"] === res.headers["x-bottle-request-id"]);
    expect(line!["path"]).toBe("/bot[secret:anthropic.key]/send");
    expect(JSON.stringify(await ws.readAudit())).not.toContain(encodeURIComponent(SECRET));
  });

  it("passes the same requests without the secret", async () => {
    for (const build of Object.values(places)) {
      const res = await get("other.test", "", build("harmless-value-42"));
      expect(res.status).toBe(200);
    }
  });

  it("blocks a secret smuggled in the host name, even lower-cased, on an allowed wildcard route", async () => {
    const res = await proxiedHttps({ proxyPort: proxy.port, ca: ws.caPem, host: `${DNS_SECRET.toLowerCase()}.gh.test`, port: upstream.port, path: "/" });
    expect(res.status).toBe(403);
    expect(res.headers["x-bottle-egress-decision"]).toBe("block-leak");
  });

  it("finds the secret base64-encoded inside a longer value (Basic auth)", async () => {
    const basic = Buffer.from(`user:${SECRET}`).toString("base64");
    const res = await get("other.test", "/send", { headers: { authorization: `Basic ${basic}` } });
    expect(res.status).toBe(403);
  });

  it("blocks an AWS key pair in a POST body (secretlint), unless the route opts out", async () => {
    const body = JSON.stringify({
      aws_access_key_id: "AKIAZ7Q3KXWJ4M2P9RTB",
      aws_secret_access_key: "Zq8vT2mK9xR4pL7wN3bH6jC1fY5sD0gA8eU2iO4t",
    });
    const init = { method: "POST", path: "/upload", headers: { "content-type": "application/json" }, body };
    const blocked = await get("other.test", "", init);
    expect(blocked.status).toBe(403);
    expect(blocked.headers["x-bottle-egress-decision"]).toBe("block-pattern");
    expect(blocked.body).toContain("secretlint-rule-aws");
    const line = (await ws.readAudit((ls) => ls.some((l) => l["id"] === blocked.headers["x-bottle-request-id"]))).find((l) => l["id"] === blocked.headers["x-bottle-request-id"]);
    expect(line).toMatchObject({ decision: "block-pattern" });
    expect(JSON.stringify(line)).not.toContain("Zq8vT2mK9x");
    const optedOut = await get("noscan.test", "", init);
    expect(optedOut.status).toBe(200);
  });
});

describe("streaming", () => {
  it("delivers each SSE event before the upstream sends the next", async () => {
    const acks = [deferred(), deferred(), deferred()];
    upstream.routes.set("/v1/stream", async (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      for (let n = 0; n < acks.length; n++) {
        res.write(`event: tick\ndata: ${n}\n\n`);
        await acks[n]!.promise; // the next event only after the client has seen this one
      }
      res.end();
    });
    const events = await readSse("/v1/stream", (n) => acks[n]!.resolve());
    expect(events).toEqual(["0", "1", "2"]);
  });
});

/** Reads an SSE stream through the proxy, calling `onEvent(index)` as each event arrives. */
async function readSse(path: string, onEvent: (n: number, data: string) => void, onResponse?: (res: http.IncomingMessage) => void): Promise<string[]> {
  const tunnel = await connectTunnel(proxy.port, "api.test", upstream.port);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: "api.test",
      port: upstream.port,
      path,
      createConnection: () => tls.connect({ socket: tunnel.socket, servername: "api.test", ca: [ws.caPem] }),
    });
    req.once("response", (res) => {
      onResponse?.(res);
      const events: string[] = [];
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        let idx: number;
        while ((idx = buf.indexOf("\n\n")) !== -1) {
          const block = buf.slice(0, idx);
          buf = buf.slice(idx + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1] ?? "";
          events.push(data);
          onEvent(events.length - 1, data);
        }
      });
      res.on("end", () => {
        tunnel.socket.destroy();
        resolve(events);
      });
    });
    req.once("error", reject);
    req.end();
  });
}

describe("reload", () => {
  it("applies a valid new routes file without dropping an in-flight stream; an invalid one keeps the old routes", async () => {
    const acks = [deferred(), deferred(), deferred()];
    const firstSeen = deferred();
    upstream.routes.set("/v1/long", async (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (let n = 0; n < acks.length; n++) {
        res.write(`data: ${n}\n\n`);
        await acks[n]!.promise;
      }
      res.end();
    });
    let streamDone!: Promise<string[]>;
    // Event 0 arrives, then the test reloads before acknowledging it.
    streamDone = readSse("/v1/long", (n) => (n === 0 ? firstSeen.resolve() : acks[n]!.resolve()));
    await firstSeen.promise;

    expect((await get("new.test", "/")).status).toBe(403);
    await ws.writeRoutes([...baseRoutes(), route({ id: "new", host: "new.test", methods: ["GET"] })]);
    await proxy.reload();
    expect((await get("new.test", "/")).status).toBe(200);

    await ws.writeRoutes(["not", "a", "routes", "file"] as never);
    await expect(proxy.reload()).rejects.toMatchObject({ code: "EGRESS_ROUTES_INVALID" });
    expect((await get("new.test", "/")).status).toBe(200);
    expect((await get("api.test", "/v1/echo-key")).body).toBe("key ok: true");

    acks[0]!.resolve();
    expect(await streamDone).toEqual(["0", "1", "2"]);
  });
});

describe("passthrough", () => {
  it("tunnels without interception: the client sees the upstream's own certificate", async () => {
    await ws.writeRoutes([...baseRoutes(), route({ id: "pass", host: "pass.test", passthrough: true })]);
    await proxy.reload();
    const res = await proxiedHttps({ proxyPort: proxy.port, ca: upstream.caPem, host: "pass.test", port: upstream.port, path: "/" });
    expect(res.status).toBe(200);
    expect(res.body).toBe("ok pass.test");
    // The bottle CA does not validate the real certificate: proof nothing was intercepted.
    await expect(proxiedHttps({ proxyPort: proxy.port, ca: ws.caPem, host: "pass.test", port: upstream.port, path: "/" })).rejects.toThrow();
  });
});
