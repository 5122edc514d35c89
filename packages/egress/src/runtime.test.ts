import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Server as ProxyChainServer } from "proxy-chain";
import { WebSocket, WebSocketServer } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEgressProxy, type EgressProxy } from "./proxy.js";
import {
  ConnectAgent,
  makeWorkspace,
  proxiedHttp,
  proxiedHttps,
  route,
  startUpstream,
  TEST_HOSTS,
  type Upstream,
  type Workspace,
  startWorkspaceProxy,
} from "./__fixtures__/harness.js";

const SECRET = "tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const hosts = Object.fromEntries([...TEST_HOSTS, "plain.test"].map((h) => [h, "127.0.0.1"]));
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

let upstream: Upstream;
let plain: http.Server;
let plainPort: number;
const plainSeen: http.IncomingHttpHeaders[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  plain = http.createServer((req, res) => {
    plainSeen.push(req.headers);
    res.end(`plain ok ${req.url}`);
  });
  plain.listen(0, "127.0.0.1");
  await once(plain, "listening");
  plainPort = (plain.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await upstream?.close();
  plain?.close();
});

const routes = () => [
  route({ id: "api", host: "api.test", inject: [{ header: "x-api-key", secret: "api.key", prefix: "" }] }),
  route({ id: "plain", host: "plain.test", scheme: "http", inject: [{ header: "authorization", secret: "api.key", prefix: "Bearer " }] }),
  route({ id: "other", host: "other.test" }),
  route({ id: "pass", host: "pass.test", passthrough: true }),
];

describe("through an upstream proxy (proxy-chain)", () => {
  let ws: Workspace;
  let proxy: EgressProxy;
  let chain: ProxyChainServer;
  const chainSaw: string[] = [];

  beforeAll(async () => {
    chain = new ProxyChainServer({
      port: 0,
      host: "127.0.0.1",
      prepareRequestFunction: ({ hostname, port }) => {
        chainSaw.push(`${hostname}:${port}`);
        return { dnsLookup: ((name: string, opts: unknown, cb: (...a: unknown[]) => void) => {
          const callback = typeof opts === "function" ? (opts as typeof cb) : cb;
          const all = typeof opts === "object" && opts !== null && (opts as { all?: boolean }).all;
          if (!(name in hosts)) return callback(Object.assign(new Error(`ENOTFOUND ${name}`), { code: "ENOTFOUND" }));
          return all ? callback(null, [{ address: "127.0.0.1", family: 4 }]) : callback(null, "127.0.0.1", 4);
        }) as never };
      },
    });
    await chain.listen();
    ws = await makeWorkspace(upstream.caPem, { "api.key": SECRET }, routes());
    proxy = await startEgressProxy({
      routesFile: ws.routesFile,
      secretsFile: ws.secretsFile,
      caCertFile: ws.caCertFile,
      caKeyFile: ws.caKeyFile,
      upstreamCaFile: ws.upstreamCaFile,
      upstreamProxy: `http://127.0.0.1:${chain.port}`,
      auditFile: ws.auditFile,
      log: () => {},
    });
  });

  afterAll(async () => {
    await proxy?.close();
    await chain?.close(true);
    await ws?.cleanup();
  });

  it("injects credentials and applies policy for HTTPS and plain HTTP", async () => {
    const res = await proxiedHttps({ proxyPort: proxy.port, ca: ws.caPem, host: "api.test", port: upstream.port, path: "/x" });
    expect(res.status).toBe(200);
    expect(upstream.seen.at(-1)!.headers["x-api-key"]).toBe(SECRET);
    expect(chainSaw).toContain(`api.test:${upstream.port}`);

    const viaHttp = await proxiedHttp(proxy.port, `http://plain.test:${plainPort}/p?q=1`);
    expect(viaHttp.status).toBe(200);
    expect(viaHttp.body).toBe("plain ok /p?q=1");
    expect(plainSeen.at(-1)!["authorization"]).toBe(`Bearer ${SECRET}`);
    expect(chainSaw).toContain(`plain.test:${plainPort}`);

    const denied = await proxiedHttps({ proxyPort: proxy.port, ca: ws.caPem, host: "unknown.test", port: upstream.port, path: "/" });
    expect(denied.status).toBe(403);
    expect(denied.body).toContain("request_egress_route");
    const leak = await proxiedHttps({ proxyPort: proxy.port, ca: ws.caPem, host: "other.test", port: upstream.port, path: `/?k=${SECRET}` });
    expect(leak.status).toBe(403);
    expect(chainSaw.some((h) => h.startsWith("unknown.test"))).toBe(false);

    // A passthrough tunnel goes through the upstream proxy too; the client sees the real certificate.
    const pass = await proxiedHttps({ proxyPort: proxy.port, ca: upstream.caPem, host: "pass.test", port: upstream.port, path: "/" });
    expect(pass.body).toBe("ok pass.test");
    expect(chainSaw).toContain(`pass.test:${upstream.port}`);
  });
});

describe("direct runtime features", () => {
  let ws: Workspace;
  let proxy: EgressProxy;

  beforeAll(async () => {
    ws = await makeWorkspace(upstream.caPem, { "api.key": SECRET }, routes());
    proxy = await startWorkspaceProxy(ws, { hosts, auditMaxBytes: 2048, maxBodyBytes: 64 * 1024 });
  });

  afterAll(async () => {
    await proxy?.close();
    await ws?.cleanup();
  });

  it("forwards plain HTTP with injection and denies unknown plain HTTP hosts", async () => {
    const ok = await proxiedHttp(proxy.port, `http://plain.test:${plainPort}/hello`);
    expect(ok.body).toBe("plain ok /hello");
    expect(plainSeen.at(-1)!["authorization"]).toBe(`Bearer ${SECRET}`);
    const denied = await proxiedHttp(proxy.port, `http://unknown.test:${plainPort}/`);
    expect(denied.status).toBe(403);
    expect(denied.body).toContain("unknown.test");
  });

  it("answers 413 to a body over the cap", async () => {
    const res = await proxiedHttps({
      proxyPort: proxy.port,
      ca: ws.caPem,
      host: "other.test",
      port: upstream.port,
      method: "POST",
      path: "/big",
      body: Buffer.alloc(65 * 1024, 0x61),
    });
    expect(res.status).toBe(413);
  });

  it("reuses one keep-alive connection for many requests", async () => {
    const agent = new ConnectAgent(proxy.port, { keepAlive: true, maxSockets: 1, ca: [ws.caPem] });
    const sockets = new Set<unknown>();
    for (let i = 0; i < 5; i++) {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
        (https.get({ host: "api.test", port: upstream.port, path: `/k${i}`, agent }, resolve) as http.ClientRequest).on("error", reject),
      );
      sockets.add(res.socket);
      res.resume();
      await once(res, "end");
    }
    agent.destroy();
    expect(sockets.size).toBe(1);
  });

  it("relays WebSocket upgrades on allowed routes with injection", async () => {
    const wss = new WebSocketServer({ noServer: true });
    let upgradeKey: string | undefined;
    const onUpgrade = (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      upgradeKey = req.headers["x-api-key"] as string | undefined;
      wss.handleUpgrade(req, socket, head, (client) => client.on("message", (m) => client.send(`echo:${m.toString()}`)));
    };
    upstream.server.on("upgrade", onUpgrade);
    try {
      const agent = new ConnectAgent(proxy.port, { ca: [ws.caPem] });
      const client = new WebSocket(`wss://api.test:${upstream.port}/ws`, { agent });
      await once(client, "open");
      client.send("hi");
      const [reply] = await once(client, "message");
      expect(String(reply)).toBe("echo:hi");
      expect(upgradeKey).toBe(SECRET);
      client.close();
      await once(client, "close");

      const denied = new WebSocket(`wss://unknown.test:${upstream.port}/ws`, { agent });
      denied.on("error", () => {});
      const [, res] = (await once(denied, "unexpected-response")) as [unknown, http.IncomingMessage];
      expect(res.statusCode).toBe(403);
      denied.terminate();
      agent.destroy();
    } finally {
      upstream.server.off("upgrade", onUpgrade);
      wss.close();
    }
  });

  it("rotates the audit trail past its size cap", async () => {
    for (let i = 0; i < 12; i++) await proxiedHttp(proxy.port, `http://plain.test:${plainPort}/r${i}`);
    const { readFile, stat } = await import("node:fs/promises");
    await ws.readAudit((lines) => lines.some((l) => l["path"] === "/r11"));
    const rotated = await readFile(`${ws.auditFile}.1`, "utf8");
    expect(rotated.split("\n").filter(Boolean).length).toBeGreaterThan(0);
    expect((await stat(ws.auditFile)).size).toBeLessThanOrEqual(2048);
  });
});

describe("bottle-egress bin", () => {
  let child: ChildProcess | undefined;
  let ws: Workspace;

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await ws?.cleanup();
  });

  it("reloads on SIGHUP (keeping old routes on an invalid file) and exits 0 on SIGTERM", async () => {
    const binDir = join(packageDir, "node_modules", ".cache", "bin-test");
    await promisify(execFile)("npx", ["tsup", "src/bin.ts", "--format", "esm", "--target", "node20", "--platform", "node", "--out-dir", binDir, "--no-config", "--silent"], { cwd: packageDir });
    const only = (paths: string[]) => [route({ id: "ip", host: "127.0.0.1", methods: ["GET"], paths })];
    ws = await makeWorkspace(upstream.caPem, { "api.key": SECRET }, only(["/allowed"]));
    child = spawn(process.execPath, [join(binDir, "bin.js"), "--listen", "127.0.0.1:0", "--routes", ws.routesFile, "--secrets", ws.secretsFile,
      "--ca-cert", ws.caCertFile, "--ca-key", ws.caKeyFile, "--upstream-ca", ws.upstreamCaFile, "--audit", ws.auditFile], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    const portSeen = new Promise<number>((resolve) =>
      child!.stderr!.on("data", (d: string) => {
        stderr += d;
        const m = /listening on [^\n]*:(\d+)/.exec(stderr);
        if (m) resolve(Number(m[1]));
      }),
    );
    const port = await portSeen;
    const get = (path: string) => proxiedHttps({ proxyPort: port, ca: ws.caPem, host: "127.0.0.1", port: upstream.port, path });
    expect((await get("/allowed")).status).toBe(200);
    expect((await get("/later")).status).toBe(403);

    await ws.writeRoutes(only(["/allowed", "/later"]));
    child.kill("SIGHUP");
    await waitFor(() => stderr.includes("reloaded"));
    expect((await get("/later")).status).toBe(200);

    const { writeFile } = await import("node:fs/promises");
    await writeFile(ws.routesFile, "{ not json");
    child.kill("SIGHUP");
    await waitFor(() => stderr.includes("reload failed"));
    expect((await get("/later")).status).toBe(200);
    expect(stderr).not.toContain(SECRET);

    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
  });
});

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(check()).toBe(true);
}
