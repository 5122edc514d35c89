import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { configFrom } from "./config.js";
import { decideRequest, decideTunnel, decideUpgrade, type Decision, type RequestBody, type RequestHead } from "./decide.js";
import type { EgressRoutePlan } from "./routes.js";

// Everything here is the decision alone: no socket, no TLS, no upstream. The proxy tests send
// the same cases through real sockets; these pin every decision and reason it can produce.

const MODEL_KEY = "sk-ant-api03-Decide/Route+Key=42";
const GH_TOKEN = "ghp_R3alT0kenValueX9aZ8bY7cW6dV5eU4fT3";
const SSH = "LongSshSecretValue123";
const DNS = "dnssecretlabel42";
const SECRETS: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  "anthropic.key": MODEL_KEY,
  "gh.token": GH_TOKEN,
  "ssh.key": SSH,
  "dns.secret": DNS,
});
const SLACK = "xoxb-123456789012-1234567890123-abcdefghijABCDEFGHIJabcd";
const AWS = 'aws_access_key_id = "AKIAZ7Q3KXWJ4M2P9RTB"\naws_secret_access_key = "Zq8vT2mK9xR4pL7wN3bH6jC1fY5sD0gA8eU2iO4t"\n';

const route = (partial: Partial<EgressRoutePlan> & { id: string; host: string }): EgressRoutePlan => ({
  ports: [],
  methods: [],
  paths: [],
  inject: [],
  passthrough: false,
  scan: true,
  onFinding: "block",
  ...partial,
});
const ROUTES = [
  route({
    id: "model",
    host: "api.test",
    methods: ["POST", "GET"],
    paths: ["/v1/"],
    inject: [{ header: "x-api-key", secret: "anthropic.key", prefix: "" }],
    stripHeaders: ["x-api-key", "authorization"],
    onFinding: "redact",
  }),
  route({ id: "gh", host: "*.github.test", methods: ["GET"], paths: ["/repos/"], inject: [{ header: "authorization", secret: "gh.token", prefix: "Bearer " }] }),
  route({ id: "open", host: "open.test" }),
  route({ id: "noscan", host: "noscan.test", scan: false }),
  route({ id: "plain", host: "plain.test", scheme: "http" }),
  route({ id: "missing", host: "missing.test", inject: [{ header: "x-key", secret: "not.configured", prefix: "" }] }),
  route({ id: "pinned", host: "*.pinned.test", passthrough: true }),
  route({ id: "redact-missing", host: "rm.test", onFinding: "redact", inject: [{ header: "x-key", secret: "not.configured", prefix: "" }] }),
];
const cfg = configFrom(ROUTES, SECRETS);
const LIMITS = { maxBodyBytes: 64 * 1024, scanLimitBytes: 64 * 1024 };

interface Case {
  name: string;
  /** Absolute URL; scheme, host, port, path and pathname come from it. */
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string | "too-large";
  contentEncoding?: string;
  contentType?: string;
  expect: Expected;
}
type Expected =
  | { action: "forward"; route: string; redactions?: Array<{ kind: "pattern" | "secret"; id: string; count: number }>; bodyHas?: string; bodyLacks?: string; pathHas?: string }
  | { action: "refuse"; decision: string; status: number; route: string | null; reason: string; text: string; bytesIn?: number; closeConnection?: true; pathHas?: string };

function headOf(c: Pick<Case, "url" | "method" | "headers">): RequestHead {
  const url = new URL(c.url);
  const scheme = url.protocol === "https:" ? "https" : "http";
  const rawHeaders = Object.entries(c.headers ?? {}).flat();
  const path = url.pathname + url.search;
  const port = url.port ? Number(url.port) : scheme === "https" ? 443 : 80;
  return { scheme, host: url.hostname, port, method: c.method ?? "GET", path, pathname: url.pathname, rawHeaders };
}
function bodyOf(c: Case): RequestBody {
  const body = c.body === "too-large" ? "too-large" : typeof c.body === "string" ? Buffer.from(c.body) : (c.body ?? Buffer.alloc(0));
  return { headers: { "content-encoding": c.contentEncoding, "content-type": c.contentType }, body };
}

const gzipped = gzipSync(`{"note":"${SSH}"}`);
const conversation = (text: string) => JSON.stringify({ messages: [{ role: "user", content: [{ type: "tool_result", content: text }] }] });

const CASES: Case[] = [
  // Allowed
  { name: "GET on an open route", url: "https://open.test/anything?q=1", expect: { action: "forward", route: "open", redactions: [] } },
  { name: "plain HTTP on a scheme:http route", url: "http://plain.test/x", expect: { action: "forward", route: "plain" } },
  { name: "a route's own injected secret in its header", url: "https://api.github.test/repos/a/b", headers: { authorization: `Bearer ${GH_TOKEN}` }, expect: { action: "forward", route: "gh" } },
  { name: "a method override on a route without methods", url: "https://open.test/x", method: "POST", headers: { "x-http-method-override": "DELETE" }, expect: { action: "forward", route: "open" } },
  { name: "a credential pattern on a scan:false route", url: "https://noscan.test/x", method: "POST", body: AWS, expect: { action: "forward", route: "noscan", bodyHas: "AKIA" } },
  { name: "gzip body without secrets", url: "https://open.test/x", method: "POST", body: gzipSync("hello"), contentEncoding: "gzip", expect: { action: "forward", route: "open" } },

  // Route refusals (deny)
  { name: "unknown host", url: "https://unknown.test/", expect: { action: "refuse", decision: "deny", status: 403, route: null, reason: "host", text: "No route of this bottle allows unknown.test:443" } },
  { name: "wildcard does not cover the apex", url: "https://github.test/repos/a", expect: { action: "refuse", decision: "deny", status: 403, route: null, reason: "host", text: "request_egress_route" } },
  { name: "plain HTTP to a TLS-only route", url: "http://open.test/x", expect: { action: "refuse", decision: "deny", status: 403, route: null, reason: "scheme", text: "Plain HTTP to open.test:80 is refused" } },
  { name: "plain HTTP to port 443 on a scheme:http route", url: "http://plain.test:443/x", expect: { action: "refuse", decision: "deny", status: 403, route: null, reason: "scheme", text: "Use https://" } },
  { name: "method not on the route", url: "https://api.github.test/repos/a", method: "DELETE", expect: { action: "refuse", decision: "deny", status: 403, route: null, reason: "method", text: "do not allow the method DELETE" } },
  { name: "path outside the route's prefixes", url: "https://api.github.test/gists/1", expect: { action: "refuse", decision: "deny", status: 403, route: null, reason: "path", text: "do not allow the path /gists/1" } },
  { name: "dot segments on a path-limited route", url: "https://api.github.test/repos/%2e%2e/admin", expect: { action: "refuse", decision: "deny", status: 403, route: null, reason: "path", text: "dot segments" } },
  { name: "encoded slash on a path-limited route", url: "https://api.github.test/repos/a%2fb", expect: { action: "refuse", decision: "deny", status: 403, route: null, reason: "path", text: "encoded" } },
  { name: "method override header", url: "https://api.github.test/repos/a", headers: { "X-HTTP-Method-Override": "DELETE" }, expect: { action: "refuse", decision: "deny", status: 403, route: "gh", reason: "method-override", text: "header x-http-method-override", bytesIn: 0 } },
  { name: "method override in the query", url: "https://api.github.test/repos/a?_method=DELETE", expect: { action: "refuse", decision: "deny", status: 403, route: "gh", reason: "method-override", text: "query _method" } },
  { name: "method override in a form body", url: "https://api.test/v1/messages", method: "POST", body: "a=1&%5fmethod=DELETE", expect: { action: "refuse", decision: "deny", status: 403, route: "model", reason: "method-override", text: "body _method", bytesIn: 20 } },
  { name: "method override as a top-level JSON key", url: "https://api.test/v1/messages", method: "POST", headers: { "content-type": "application/json" }, body: '{"_method":"DELETE"}', expect: { action: "refuse", decision: "deny", status: 403, route: "model", reason: "method-override", text: "body _method" } },
  { name: "a conversation quoting _method is no override", url: "https://api.test/v1/messages", method: "POST", headers: { "content-type": "application/json" }, body: conversation("params[:_method] = 'DELETE'"), expect: { action: "forward", route: "model", redactions: [] } },
  { name: "body over the cap", url: "https://open.test/x", method: "POST", body: "too-large", expect: { action: "refuse", decision: "deny", status: 413, route: "open", reason: "body-too-large", text: "larger than 65536 bytes", closeConnection: true } },

  // Leaks in host, URL and headers: checked before the route, so they win over a deny
  { name: "secret in the query", url: `https://open.test/x?k=${SSH}`, expect: { action: "refuse", decision: "block-leak", status: 403, route: "open", reason: "ssh.key", text: "carries the value of a known secret" } },
  { name: "secret percent-encoded in the path", url: `https://open.test/${encodeURIComponent(MODEL_KEY)}`, expect: { action: "refuse", decision: "block-leak", status: 403, route: "open", reason: "anthropic.key", text: "known secret" } },
  { name: "secret in a host label (unknown host)", url: `https://${DNS}.unknown.test/`, expect: { action: "refuse", decision: "block-leak", status: 403, route: null, reason: "dns.secret", text: "[redacted: carries secret dns.secret]" } },
  { name: "secret inside Basic auth (base64)", url: "https://open.test/x", headers: { authorization: `Basic ${Buffer.from(`me:${SSH}`).toString("base64")}` }, expect: { action: "refuse", decision: "block-leak", status: 403, route: "open", reason: "ssh.key", text: "known secret" } },
  { name: "another route's secret in a header", url: "https://open.test/x", headers: { "x-token": GH_TOKEN }, expect: { action: "refuse", decision: "block-leak", status: 403, route: "open", reason: "gh.token", text: "known secret" } },
  { name: "leak on a denied method is a leak", url: `https://api.github.test/repos/a?k=${SSH}`, method: "DELETE", expect: { action: "refuse", decision: "block-leak", status: 403, route: null, reason: "ssh.key", text: "known secret" } },

  // Bodies (blocking routes)
  { name: "secret in the body", url: "https://open.test/x", method: "POST", body: `{"k":"${SSH}"}`, expect: { action: "refuse", decision: "block-leak", status: 403, route: "open", reason: "ssh.key", text: "known secret", bytesIn: SSH.length + 8 } },
  { name: "secret hex-encoded in the body", url: "https://open.test/x", method: "POST", body: Buffer.from(SSH).toString("hex"), expect: { action: "refuse", decision: "block-leak", status: 403, route: "open", reason: "ssh.key", text: "known secret" } },
  { name: "secret in a gzip body", url: "https://open.test/x", method: "POST", body: gzipped, contentEncoding: "gzip", expect: { action: "refuse", decision: "block-leak", status: 403, route: "open", reason: "ssh.key", text: "known secret", bytesIn: gzipped.length } },
  { name: "unknown content encoding", url: "https://open.test/x", method: "POST", body: "abc", contentEncoding: "x-custom", expect: { action: "refuse", decision: "block-leak", status: 403, route: "open", reason: "unknown-content-encoding", text: "not one egress can decode" } },
  { name: "body that is not the gzip it claims", url: "https://open.test/x", method: "POST", body: "not gzip", contentEncoding: "gzip", expect: { action: "refuse", decision: "block-leak", status: 403, route: "open", reason: "corrupt-content-encoding", text: "does not decode" } },
  { name: "credential pattern in the body", url: "https://open.test/x", method: "POST", body: AWS, expect: { action: "refuse", decision: "block-pattern", status: 403, route: "open", reason: "@secretlint/secretlint-rule-aws", text: "looks like it contains a credential", bytesIn: AWS.length } },
  { name: "credential pattern in the URL", url: `https://open.test/hook?t=${SLACK}`, expect: { action: "refuse", decision: "block-pattern", status: 403, route: "open", reason: "@secretlint/secretlint-rule-slack", text: "(@secretlint/secretlint-rule-slack)" } },
  { name: "route without a configured secret", url: "https://missing.test/x", expect: { action: "refuse", decision: "error", status: 502, route: "missing", reason: "missing-secret:not.configured", text: 'needs secret "not.configured"' } },
  { name: "a body leak wins over a missing secret", url: "https://missing.test/x", method: "POST", body: SSH, expect: { action: "refuse", decision: "block-leak", status: 403, route: "missing", reason: "ssh.key", text: "known secret" } },

  // Redacting route: findings are replaced and the request goes on
  { name: "redact: pattern in the body", url: "https://api.test/v1/messages", method: "POST", body: conversation(SLACK), expect: { action: "forward", route: "model", redactions: [{ kind: "pattern", id: "@secretlint/secretlint-rule-slack", count: 1 }], bodyHas: "[REDACTED", bodyLacks: SLACK } },
  { name: "redact: a known secret in the body", url: "https://api.test/v1/messages", method: "POST", body: conversation(SSH), expect: { action: "forward", route: "model", redactions: [{ kind: "secret", id: "ssh.key", count: 1 }], bodyLacks: SSH } },
  { name: "redact: the route's own key in the body", url: "https://api.test/v1/messages", method: "POST", body: conversation(MODEL_KEY), expect: { action: "forward", route: "model", redactions: [{ kind: "secret", id: "anthropic.key", count: 1 }], bodyLacks: MODEL_KEY } },
  { name: "redact: pattern in the URL", url: `https://api.test/v1/messages?t=${SLACK}`, method: "POST", expect: { action: "forward", route: "model", redactions: [{ kind: "pattern", id: "@secretlint/secretlint-rule-slack", count: 1 }], pathHas: "%5BREDACTED" } },
  { name: "redact: pattern in a percent-encoded URL blocks", url: `https://api.test/v1/messages?x=%20&t=${SLACK}`, method: "POST", expect: { action: "refuse", decision: "block-pattern", status: 403, route: "model", reason: "@secretlint/secretlint-rule-slack", text: "credential" } },
  { name: "redact: a body that is not UTF-8 blocks a secret", url: "https://api.test/v1/messages", method: "POST", body: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(SSH)]), expect: { action: "refuse", decision: "block-leak", status: 403, route: "model", reason: "ssh.key", text: "known secret" } },
  { name: "redact: missing secret after a redacted URL records the redacted path", url: `https://rm.test/x?t=${SLACK}`, expect: { action: "refuse", decision: "error", status: 502, route: "redact-missing", reason: "missing-secret:not.configured", text: "not configured", pathHas: "REDACTED" } },
];

const VALUES = Object.values(SECRETS);

describe("decideRequest (no sockets)", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const d: Decision = await decideRequest(cfg, headOf(c), bodyOf(c), LIMITS);
    const e = c.expect;
    expect(d.action).toBe(e.action);
    if (d.action === "forward" && e.action === "forward") {
      expect(d.route.id).toBe(e.route);
      if (e.redactions) expect(d.redactions).toEqual(e.redactions);
      if (e.bodyHas) expect(d.body.toString()).toContain(e.bodyHas);
      if (e.bodyLacks) expect(d.body.toString()).not.toContain(e.bodyLacks);
      if (e.pathHas) expect(d.path).toContain(e.pathHas);
      // Nothing forwarded on a redacting route still holds a known value.
      if (d.route.onFinding === "redact") for (const v of VALUES) expect(d.body.toString() + d.path).not.toContain(v);
    }
    if (d.action === "refuse" && e.action === "refuse") {
      expect({ decision: d.decision, status: d.status, route: d.route, reason: d.reason }).toEqual({ decision: e.decision, status: e.status, route: e.route, reason: e.reason });
      expect(d.text).toContain(e.text);
      expect(d.text.endsWith("\n")).toBe(true);
      if (e.bytesIn !== undefined) expect(d.bytesIn).toBe(e.bytesIn);
      expect(d.closeConnection).toBe(e.closeConnection);
      if (e.pathHas) expect(d.path).toContain(e.pathHas);
      // What the agent reads never holds a secret value, whatever it sent.
      for (const v of VALUES) expect(d.text).not.toContain(v);
    }
  });

  it("the forwarded body is the very Buffer received when nothing was found (no copy)", async () => {
    const body = Buffer.from(conversation("nothing to see"));
    const d = await decideRequest(cfg, headOf({ url: "https://api.test/v1/messages", method: "POST" }), { headers: {}, body }, LIMITS);
    expect(d.action === "forward" && d.body).toBe(body);
  });
});

describe("decideUpgrade (no sockets)", () => {
  const cases: Array<[string, Pick<Case, "url" | "headers">, { action: "continue"; route: string } | { decision: string; status: number; route: string | null; reason: string }]> = [
    ["allowed route", { url: "https://api.github.test/repos/ws" }, { action: "continue", route: "gh" }],
    ["unknown host", { url: "https://unknown.test/ws" }, { decision: "deny", status: 403, route: null, reason: "host" }],
    ["path outside the route", { url: "https://api.github.test/ws" }, { decision: "deny", status: 403, route: null, reason: "path" }],
    ["secret in a header", { url: "https://open.test/ws", headers: { "sec-websocket-protocol": SSH } }, { decision: "block-leak", status: 403, route: "open", reason: "ssh.key" }],
    ["route without a configured secret", { url: "https://missing.test/ws" }, { decision: "error", status: 502, route: "missing", reason: "missing-secret:not.configured" }],
  ];
  it.each(cases)("%s", (_name, c, want) => {
    const d = decideUpgrade(cfg, headOf(c));
    if ("action" in want) {
      expect(d.action).toBe("continue");
      expect(d.action === "continue" && d.route.id).toBe(want.route);
    } else {
      expect(d.action).toBe("refuse");
      if (d.action === "refuse") expect({ decision: d.decision, status: d.status, route: d.route, reason: d.reason }).toEqual(want);
    }
  });
});

describe("decideTunnel (no sockets)", () => {
  const cases: Array<[string, string, number, string | undefined]> = [
    ["a passthrough route tunnels blind", "app.pinned.test", 443, "pinned"],
    ["an ordinary route is intercepted", "open.test", 443, undefined],
    ["an unknown host is intercepted (and its requests denied with guidance)", "unknown.test", 443, undefined],
    ["a host carrying a secret is intercepted, never tunnelled", `${DNS}.pinned.test`, 443, undefined],
  ];
  it.each(cases)("%s", (_name, host, port, want) => {
    expect(decideTunnel(cfg, host, port)?.id).toBe(want);
  });
});
