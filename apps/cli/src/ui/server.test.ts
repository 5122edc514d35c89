// The dashboard's front door, over real HTTP against a real state dir (no engine needed:
// the actions used here — deciding a question — touch only files).
import { request } from "node:http";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRequest, readRequest } from "@bottle/supervise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDashboard, type RunningDashboard } from "./server.js";

let root: string;
let dashboard: RunningDashboard;
let requestsDir: string;
const slug = "demo-1a2b3c4d";
const previousState = process.env.XDG_STATE_HOME;
const logs: string[] = [];

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(pathname: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: dashboard.port, path: pathname, method: options.method ?? "GET", headers: { host: `127.0.0.1:${dashboard.port}`, ...options.headers } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

let cookie = "";
let csrf = "";

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "bottle-ui-"));
  process.env.XDG_STATE_HOME = root;
  const state = path.join(root, "bottle", slug);
  requestsDir = path.join(state, "bundle", "requests");
  await mkdir(requestsDir, { recursive: true });
  await writeFile(
    path.join(state, "metadata.json"),
    JSON.stringify({ version: 1, slug, bottle: "demo", backend: "docker", manifestPath: path.join(root, "missing.json"), composeProject: "p", networks: {}, containers: {}, startedAt: new Date().toISOString() }),
  );
  dashboard = await startDashboard({ log: (line) => logs.push(line) });
  const signIn = await call(`/?token=${new URL(dashboard.url).searchParams.get("token")}`);
  cookie = String(signIn.headers["set-cookie"]).split(";")[0]!;
  const page = await call("/", { headers: { cookie } });
  csrf = /name="bottle-csrf" content="([^"]+)"/.exec(page.body)![1]!;
});

afterAll(async () => {
  await dashboard?.close();
  if (previousState === undefined) delete process.env.XDG_STATE_HOME;
  else process.env.XDG_STATE_HOME = previousState;
  await rm(root, { recursive: true, force: true });
});

const question = () => createRequest(requestsDir, { kind: "question", request: { question: "ship it?" } });
const post = (pathname: string, headers: Record<string, string>, body = '{"answer":"yes"}') => call(pathname, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

describe("bottle ui: who may look and act", () => {
  it("listens on 127.0.0.1 and prints a URL with a long random token", () => {
    expect(dashboard.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new URL(dashboard.url).searchParams.get("token")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("answers 401 without the token or cookie, on every path (page, assets, API, stream)", async () => {
    for (const p of ["/", "/assets/app.js", "/api/bottles", `/api/bottles/${slug}`, "/api/stream"]) expect((await call(p)).status, p).toBe(401);
    expect((await call("/?token=wrong")).status).toBe(401);
    expect((await call("/api/bottles", { headers: { cookie: `${cookie.split("=")[0]}=forged` } })).status).toBe(401);
  });

  it("trades the token for an HttpOnly SameSite=Strict cookie and drops it from the URL", async () => {
    const res = await call(`/?token=${new URL(dashboard.url).searchParams.get("token")}`);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/");
    expect(String(res.headers["set-cookie"])).toMatch(new RegExp(`^bottle_ui_${dashboard.port}=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=/$`));
    expect((await call("/api/bottles", { headers: { cookie } })).status).toBe(200);
  });

  it("refuses a wrong Host header even with a valid cookie (DNS rebinding)", async () => {
    for (const host of ["evil.example:" + dashboard.port, `localhost:${dashboard.port}`, "127.0.0.1", `127.0.0.1:${dashboard.port + 1}`]) {
      expect((await call("/api/bottles", { headers: { cookie, host } })).status, host).toBe(421);
    }
  });

  it("serves a strict CSP, no CORS, and nothing that names another origin", async () => {
    const res = await call("/", { headers: { cookie, origin: "http://127.0.0.1:1" } });
    expect(res.headers["content-security-policy"]).toContain("default-src 'none'; script-src 'self'");
    expect(res.headers["x-frame-options"]).toBe("DENY");
    expect(Object.keys(res.headers).filter((h) => h.startsWith("access-control-"))).toEqual([]);
    expect(res.body).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    const js = await call("/assets/app.js", { headers: { cookie } });
    expect(js.body).not.toMatch(/https?:\/\/[a-z]/i);
    const preflight = await call(`/api/bottles/${slug}/stop`, { method: "OPTIONS", headers: { cookie, origin: "http://127.0.0.1:1", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(405);
    expect(Object.keys(preflight.headers).filter((h) => h.startsWith("access-control-"))).toEqual([]);
  });

  it("refuses a state change from another origin, without the CSRF token, or from another site", async () => {
    const q = await question();
    const url = `/api/bottles/${slug}/requests/${q.id}/approve`;
    const attempts: Array<[string, Record<string, string>]> = [
      ["other local origin", { cookie, origin: "http://127.0.0.1:9999", "x-bottle-csrf": csrf }],
      ["no origin", { cookie, "x-bottle-csrf": csrf }],
      ["no CSRF token", { cookie, origin: dashboard.origin }],
      ["wrong CSRF token", { cookie, origin: dashboard.origin, "x-bottle-csrf": "x".repeat(43) }],
      ["cross-site fetch metadata", { cookie, origin: dashboard.origin, "x-bottle-csrf": csrf, "sec-fetch-site": "same-site" }],
    ];
    for (const [what, headers] of attempts) expect((await post(url, headers)).status, what).toBe(403);
    expect((await post(url, { origin: dashboard.origin, "x-bottle-csrf": csrf })).status, "no cookie").toBe(401);
    expect((await readRequest(requestsDir, q.id)).status).toBe("pending");
    expect(logs.some((l) => l.includes(`refused POST ${url}`) && l.includes("http://127.0.0.1:9999"))).toBe(true);
  });

  it("acts for the page it served: answers a question, recording who", async () => {
    const q = await question();
    const res = await post(`/api/bottles/${slug}/requests/${q.id}/approve`, { cookie, origin: dashboard.origin, "x-bottle-csrf": csrf, "sec-fetch-site": "same-origin" });
    expect(res.status, res.body).toBe(200);
    const decided = await readRequest(requestsDir, q.id);
    expect(decided).toMatchObject({ status: "approved", decision: { answer: "yes", by: expect.stringMatching(/ \(ui\)$/) } });
    // a decided request cannot be decided again: a clear error, not a crash
    const again = await post(`/api/bottles/${slug}/requests/${q.id}/deny`, { cookie, origin: dashboard.origin, "x-bottle-csrf": csrf }, "{}");
    expect(again.status).toBe(400);
    expect(JSON.parse(again.body).error.code).toBe("SUPERVISE_REQUEST_DECIDED");
    const malformed = await post(`/api/bottles/${slug}/requests/${q.id}/deny`, { cookie, origin: dashboard.origin, "x-bottle-csrf": csrf }, "{not json");
    expect(malformed.status).toBe(400);
    const foreign = await post(`/api/bottles/${slug}/requests/req-00000000/approve`, { cookie, origin: dashboard.origin, "x-bottle-csrf": csrf });
    expect(JSON.parse(foreign.body).error.code).toBe("SUPERVISE_REQUEST_UNKNOWN");
  });

  it("lists bottles and a bottle's requests and activity to the signed-in page", async () => {
    const list = JSON.parse((await call("/api/bottles", { headers: { cookie } })).body);
    expect(list).toEqual([expect.objectContaining({ slug, bottle: "demo", backend: "docker", running: true })]);
    const detail = JSON.parse((await call(`/api/bottles/${slug}`, { headers: { cookie } })).body);
    expect(detail.requests.length).toBeGreaterThanOrEqual(2);
    expect(detail.events.some((e: { source: string; outcome: string }) => e.source === "supervise" && e.outcome === "answer")).toBe(true);
  });
});
