import { once } from "node:events";
import type http from "node:http";
import type net from "node:net";
import zlib from "node:zlib";
import { WebSocket, WebSocketServer } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EgressProxy } from "./proxy.js";
import { ConnectAgent, makeWorkspace, proxiedHttps, route, startUpstream, TEST_HOSTS, type Upstream, type Workspace, startWorkspaceProxy } from "./__fixtures__/harness.js";

// The encodings a hostile agent used to carry the key of one route to another allowed
// route (issue 13), one test per transformation and location, through the real proxy on
// real TLS. `other.test` is the sink: every probe must be blocked before it arrives there.
const KEY = "sk-ant-api03-leakProbe9Hq2Zx4Lm7Wv0Tt";
const MAX_BODY = 2 * 1024 * 1024;

let upstream: Upstream;
let ws: Workspace;
let proxy: EgressProxy;

beforeAll(async () => {
  upstream = await startUpstream();
  ws = await makeWorkspace(upstream.caPem, { "api.key": KEY }, [
    route({ id: "api", host: "api.test", inject: [{ header: "x-api-key", secret: "api.key", prefix: "" }] }),
    route({ id: "other", host: "other.test" }),
  ]);
  proxy = await startWorkspaceProxy(ws, { maxBodyBytes: MAX_BODY });
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
  await ws?.cleanup();
});

const raw = Buffer.from(KEY);
/** Every other letter upper-cased, so neither the all-lower nor the all-upper form matches. */
const mixedCase = (s: string) => {
  let letters = 0;
  return [...s].map((c) => (/[a-z]/i.test(c) ? (letters++ % 2 ? c.toUpperCase() : c.toLowerCase()) : c)).join("");
};
const hexMixed = mixedCase(raw.toString("hex"));
const percentAllMixed = mixedCase([...raw].map((b) => "%" + b.toString(16)).join(""));
const percentOne = KEY.replace("k", "%6B");
const base64Wrapped = (raw.toString("base64").match(/.{1,8}/g) ?? []).join("\r\n");
const base64urlSpaced = (raw.toString("base64url").match(/.{1,5}/g) ?? []).join(" ");
const jsonEscaped = [...KEY].map((c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")).join("");

async function sink(init: { path?: string; method?: string; headers?: Record<string, string>; body?: string | Buffer }) {
  const before = upstream.seen.filter((s) => s.host === "other.test").length;
  const res = await proxiedHttps({ proxyPort: proxy.port, ca: ws.caPem, host: "other.test", port: upstream.port, method: init.method ?? (init.body ? "POST" : "GET"), path: init.path ?? "/", headers: init.headers ?? {}, ...(init.body === undefined ? {} : { body: init.body }) });
  const arrived = upstream.seen.filter((s) => s.host === "other.test").length - before;
  return { ...res, arrived };
}

describe("a known value in the body, as the receiver decodes it", () => {
  it.each([
    ["one character percent-encoded", `x=${percentOne}`, {}],
    ["every byte percent-encoded, hex digits in mixed case", `x=${percentAllMixed}`, {}],
    ["a malformed escape next to a percent-encoded value", `y=100%&x=${percentOne}`, {}],
    ["hex in mixed case", `x=${hexMixed}`, {}],
    ["base64 with line breaks", `x=${base64Wrapped}`, {}],
    ["base64url with spaces", `x=${base64urlSpaced}`, {}],
    ["JSON \\u escapes", `{"x":"${jsonEscaped}"}`, { "content-type": "application/json" }],
    ["JSON \\u escapes of a percent-encoded value", `{"x":"${[...percentOne].map((c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")).join("")}"}`, { "content-type": "application/json" }],
  ])("blocks %s", async (_what, body, headers) => {
    const res = await sink({ body, headers });
    expect(res.status).toBe(403);
    expect(res.arrived).toBe(0);
  });

  it.each([
    ["gzip", zlib.gzipSync(`x=${KEY}`)],
    ["deflate", zlib.deflateSync(`x=${KEY}`)],
    ["deflate (raw)", zlib.deflateRawSync(`x=${KEY}`)],
    ["br", zlib.brotliCompressSync(`${"padding ".repeat(200)}x=${KEY}`)],
    ["gzip, br", zlib.brotliCompressSync(zlib.gzipSync(`x=${hexMixed}`))],
  ])("blocks a Content-Encoding: %s body", async (coding, body) => {
    const res = await sink({ body, headers: { "content-encoding": coding } });
    expect(res.status).toBe(403);
    expect(res.arrived).toBe(0);
  });

  it("blocks a body whose decoded size is past the cap (a decompression bomb), and an unknown coding", async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(MAX_BODY * 4));
    expect(bomb.length).toBeLessThan(MAX_BODY);
    const big = await sink({ body: bomb, headers: { "content-encoding": "gzip" } });
    expect(big.status).toBe(403);
    expect(big.body).toContain("larger than egress inspects");
    expect(big.arrived).toBe(0);
    const unknown = await sink({ body: Buffer.from(`x=${KEY}`).reverse(), headers: { "content-encoding": "zstd" } });
    expect(unknown.status).toBe(403);
    expect(unknown.arrived).toBe(0);
  });

  it.each([
    ["utf-16le", Buffer.from(`x=${KEY}`, "utf16le")],
    ["utf-16be", Buffer.from(`x=${KEY}`, "utf16le").swap16()],
  ])("blocks a charset=%s body", async (charset, body) => {
    const res = await sink({ body, headers: { "content-type": `text/plain; charset=${charset}` } });
    expect(res.status).toBe(403);
    expect(res.arrived).toBe(0);
  });

  it("passes a clean compressed body (control)", async () => {
    const res = await sink({ body: zlib.gzipSync("x=nothing secret here"), headers: { "content-encoding": "gzip" } });
    expect(res.status).toBe(200);
    expect(res.arrived).toBe(1);
  });
});

describe("a known value in the URL and headers", () => {
  it.each([
    ["query, one character percent-encoded, next to a malformed escape", `/?y=100%&x=${percentOne}`],
    ["query, every byte percent-encoded in mixed case", `/?x=${percentAllMixed}`],
    ["query, hex in mixed case", `/?x=${hexMixed}`],
    ["query, base64 with an encoded line break", `/?x=${encodeURIComponent(base64Wrapped)}`],
    ["path, JSON \\u escapes percent-encoded", `/${encodeURIComponent(jsonEscaped)}`],
  ])("blocks the %s", async (_what, path) => {
    const res = await sink({ path });
    expect(res.status).toBe(403);
    expect(res.arrived).toBe(0);
  });

  it.each([
    ["one character percent-encoded next to a malformed escape", `100%; ${percentOne}`],
    ["hex in mixed case", hexMixed],
    ["JSON \\u escapes", jsonEscaped],
  ])("blocks a header value with %s", async (_what, value) => {
    const res = await sink({ headers: { "x-note": value } });
    expect(res.status).toBe(403);
    expect(res.arrived).toBe(0);
  });

  it("pattern-scans the decoded URL: a fully percent-encoded GitHub token is caught", async () => {
    const token = "ghp_" + "R3alT0kenValueX9aZ8bY7cW6dV5eU4fT3q7";
    const res = await sink({ path: `/?t=${[...Buffer.from(token)].map((b) => "%" + b.toString(16)).join("")}` });
    expect(res.status).toBe(403);
    expect(res.body).toContain("looks like it contains a credential");
    expect(res.arrived).toBe(0);
  });
});

describe("WebSocket frames after an allowed upgrade", () => {
  async function withWebSocketUpstream(test: (received: string[], sendToClient: (m: string | Buffer) => void) => Promise<void>) {
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true });
    const received: string[] = [];
    const sockets: WebSocket[] = [];
    const onUpgrade = (req: http.IncomingMessage, socket: net.Socket, head: Buffer) =>
      wss.handleUpgrade(req, socket, head, (client) => {
        sockets.push(client);
        client.on("message", (m) => received.push(Buffer.from(m as Buffer).toString("utf8")));
      });
    upstream.server.on("upgrade", onUpgrade);
    try {
      await test(received, (m) => sockets.at(-1)!.send(m));
    } finally {
      upstream.server.off("upgrade", onUpgrade);
      for (const s of sockets) s.terminate();
      wss.close();
    }
  }

  async function open(perMessageDeflate: boolean): Promise<{ client: WebSocket; agent: ConnectAgent }> {
    const agent = new ConnectAgent(proxy.port, { ca: [ws.caPem] });
    const client = new WebSocket(`wss://other.test:${upstream.port}/ws`, { agent, perMessageDeflate });
    client.on("error", () => {});
    await once(client, "open");
    return { client, agent };
  }

  it.each([
    ["a text frame", false, (c: WebSocket) => c.send(`note ${KEY}`)],
    ["a binary frame", false, (c: WebSocket) => c.send(Buffer.concat([Buffer.from([0, 1, 2]), raw]))],
    ["a permessage-deflate text frame", true, (c: WebSocket) => c.send(`note ${KEY}`, { compress: true })],
    ["a fragmented message", false, (c: WebSocket) => {
      c.send(KEY.slice(0, 10), { fin: false });
      c.send(KEY.slice(10), { fin: true });
    }],
    ["hex in mixed case in a deflated binary frame", true, (c: WebSocket) => c.send(Buffer.from(hexMixed), { compress: true, binary: true })],
  ])("blocks the key in %s from the agent, after a clean message passed", async (_what, deflate, send) => {
    await withWebSocketUpstream(async (received) => {
      const { client, agent } = await open(deflate);
      client.send("hello", { compress: deflate });
      while (received.length === 0) await new Promise((r) => setTimeout(r, 10));
      send(client);
      await once(client, "close");
      agent.destroy();
      expect(received).toEqual(["hello"]);
    });
  });

  it("blocks the key in a frame from the upstream: the agent never receives it", async () => {
    await withWebSocketUpstream(async (received, sendToClient) => {
      const { client, agent } = await open(true);
      const got: string[] = [];
      client.on("message", (m) => got.push(String(m)));
      client.send("hello");
      while (received.length === 0) await new Promise((r) => setTimeout(r, 10));
      sendToClient("fine");
      while (got.length === 0) await new Promise((r) => setTimeout(r, 10));
      sendToClient(`leaked ${KEY}`);
      await once(client, "close");
      agent.destroy();
      expect(got).toEqual(["fine"]);
    });
  });
});
