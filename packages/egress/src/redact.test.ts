import { generateKeyPairSync } from "node:crypto";
import { writeFile } from "node:fs/promises";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EgressProxy } from "./proxy.js";
import { applyRedactions, findingLabel, redactionMarker, widenToJsonEscapes } from "./redact.js";
import { makeWorkspace, proxiedHttps, route, startUpstream, TEST_HOSTS, type Upstream, type Workspace, startWorkspaceProxy } from "./__fixtures__/harness.js";

const API_KEY = "sk-ant-api03-Redact/Route+Key=42";
const GH_TOKEN = "ghp_R3alT0kenValueX9aZ8bY7cW6dV5eU4fT3";
// A secret whose value is part of every redaction marker: replacing it can never hide it.
const MARKER_SECRET = "removed a credential here";
const AWS_ID = "AKIAZ7Q3KXWJ4M2P9RTB";
const AWS_SECRET = "Zq8vT2mK9xR4pL7wN3bH6jC1fY5sD0gA8eU2iO4t";
const SLACK = "xoxb-123456789012-1234567890123-abcdefghijABCDEFGHIJabcd";
const PRIVATE_KEY = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
const SECRETS = { "anthropic.key": API_KEY, "gh.token": GH_TOKEN };

let upstream: Upstream;
let ws: Workspace;
let proxy: EgressProxy;

beforeAll(async () => {
  upstream = await startUpstream();
  ws = await makeWorkspace(upstream.caPem, SECRETS, [
    route({ id: "model", host: "api.test", methods: ["POST", "GET"], paths: ["/v1/"], inject: [{ header: "x-api-key", secret: "anthropic.key", prefix: "" }], onFinding: "redact" }),
    route({ id: "other", host: "other.test" }),
  ]);
  proxy = await startWorkspaceProxy(ws);
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
  await ws?.cleanup();
});

/** A Messages-API-shaped body whose last tool result holds `text`. */
const conversation = (text: string) =>
  JSON.stringify({
    model: "claude-test",
    max_tokens: 1024,
    stream: true,
    messages: [
      { role: "user", content: [{ type: "text", text: "read the config file" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "Read", input: { file_path: "/workspace/.env" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: text }] },
    ],
  });

const post = (host: string, body: string, path = "/v1/messages") =>
  proxiedHttps({ proxyPort: proxy.port, ca: ws.caPem, host, port: upstream.port, method: "POST", path, headers: { "content-type": "application/json", "x-api-key": "placeholder" }, body });

const auditLine = async (id: string | string[] | undefined) =>
  (await ws.readAudit((ls) => ls.some((l) => l["id"] === id))).find((l) => l["id"] === id)!;

const lastSeenText = () => (JSON.parse(upstream.seen.at(-1)!.body) as { messages: Array<{ content: Array<{ content?: string }> }> }).messages[2]!.content[0]!.content!;

describe("a redact route forwards the conversation with findings replaced", () => {
  it("replaces an AWS key in a tool result by a typed marker; the body stays JSON with a correct length", async () => {
    const before = upstream.seen.length;
    const res = await post("api.test", conversation(`AWS_ACCESS_KEY_ID=${AWS_ID}\naws_secret_access_key = ${AWS_SECRET}\nregion=eu-west-1\n`));
    expect(res.status).toBe(200);
    expect(upstream.seen.length).toBe(before + 1);
    const seen = upstream.seen.at(-1)!;
    expect(Number(seen.headers["content-length"])).toBe(Buffer.byteLength(seen.body));
    expect(seen.headers["x-api-key"]).toBe(API_KEY);
    const text = lastSeenText();
    expect(text).not.toContain(AWS_SECRET);
    expect(text).toContain(redactionMarker("aws-secret-access-key"));
    expect(text).toContain("region=eu-west-1");
    const audit = await ws.readAudit((ls) => ls.some((l) => l["decision"] === "redact"));
    const redact = audit.find((l) => l["decision"] === "redact")!;
    expect(redact).toMatchObject({ route: "model", status: 200, redactions: [{ kind: "pattern", id: "@secretlint/secretlint-rule-aws", count: 1 }] });
    expect(JSON.stringify(audit)).not.toContain(AWS_SECRET.slice(0, 12));
  });

  it("replaces a private key whose newlines are JSON escapes, keeping the JSON valid", async () => {
    const res = await post("api.test", conversation(`here is the key:\n${PRIVATE_KEY}\nthat's all`));
    expect(res.status).toBe(200);
    const text = lastSeenText(); // JSON.parse succeeded
    expect(text).not.toContain("PRIVATE KEY-----\nMII");
    expect(text).toMatch(/^here is the key:\n\[REDACTED private-key: [^\]]*\]\n+that's all$/);
    expect(upstream.seen.at(-1)!.body).not.toContain(PRIVATE_KEY.split("\n")[2]!);
  });

  it("replaces known secret values (raw and encoded), including the route's own credential, and never forwards them", async () => {
    const body = conversation(`token ${GH_TOKEN} and ${Buffer.from(GH_TOKEN).toString("base64")} and the model key ${API_KEY}`);
    const res = await post("api.test", body);
    expect(res.status).toBe(200);
    const seen = upstream.seen.at(-1)!;
    expect(seen.body).not.toContain(GH_TOKEN);
    expect(seen.body).not.toContain(Buffer.from(GH_TOKEN).toString("base64"));
    expect(seen.body).not.toContain(API_KEY);
    expect(lastSeenText()).toBe(`token ${redactionMarker("secret gh.token")} and ${redactionMarker("secret gh.token")} and the model key ${redactionMarker("secret anthropic.key")}`);
    const audit = await ws.readAudit((ls) => ls.some((l) => l["decision"] === "redact" && JSON.stringify(l["redactions"]).includes("gh.token")));
    const line = audit.find((l) => l["decision"] === "redact" && JSON.stringify(l["redactions"]).includes("gh.token"))!;
    expect(line["redactions"]).toEqual(
      expect.arrayContaining([
        { kind: "secret", id: "gh.token", count: 2 },
        { kind: "secret", id: "anthropic.key", count: 1 },
      ]),
    );
  });

  it("blocks when a known secret is still there after redaction", async () => {
    await writeFile(ws.secretsFile, JSON.stringify({ ...SECRETS, odd: MARKER_SECRET }), { mode: 0o600 });
    await proxy.reload();
    const before = upstream.seen.length;
    const res = await post("api.test", conversation(`note: ${MARKER_SECRET}`));
    await writeFile(ws.secretsFile, JSON.stringify(SECRETS), { mode: 0o600 });
    await proxy.reload();
    expect(res.status).toBe(403);
    expect(res.headers["x-bottle-egress-decision"]).toBe("block-leak");
    expect(upstream.seen.length).toBe(before);
    expect((await auditLine(res.headers["x-bottle-request-id"]))["reason"]).toBe("odd");
  });

  it("replaces a credential in the URL, percent-encoding the marker", async () => {
    const res = await proxiedHttps({ proxyPort: proxy.port, ca: ws.caPem, host: "api.test", port: upstream.port, path: `/v1/models?token=${SLACK}&x=1` });
    expect(res.status).toBe(200);
    const seen = upstream.seen.at(-1)!;
    expect(seen.url).not.toContain(SLACK);
    expect(decodeURIComponent(seen.url)).toBe(`/v1/models?token=${redactionMarker("slack-token")}&x=1`);
  });

  it("passes a clean conversation byte for byte and records it as allow", async () => {
    const body = conversation("nothing secret here: AKIA is just a prefix");
    const res = await post("api.test", body);
    expect(res.status).toBe(200);
    expect(upstream.seen.at(-1)!.body).toBe(body);
  });

  it("other routes keep blocking the same body", async () => {
    const res = await post("other.test", conversation(`aws_secret_access_key = ${AWS_SECRET}`), "/upload");
    expect(res.status).toBe(403);
    expect(res.headers["x-bottle-egress-decision"]).toBe("block-pattern");
    const leak = await post("other.test", conversation(`token ${GH_TOKEN}`), "/upload");
    expect(leak.headers["x-bottle-egress-decision"]).toBe("block-leak");
  });

  it("does not let a secretlint-disable comment in the body switch the scan off", async () => {
    const res = await post("other.test", `// secretlint-disable\naws_secret_access_key = ${AWS_SECRET}\n`, "/upload");
    expect(res.status).toBe(403);
  });
});

describe("redaction primitives", () => {
  it("names findings by their message id", () => {
    expect(findingLabel("AWSSecretAccessKey", "@secretlint/secretlint-rule-aws")).toBe("aws-secret-access-key");
    expect(findingLabel("SLACK_TOKEN", "@secretlint/secretlint-rule-slack")).toBe("slack-token");
    expect(findingLabel("", "@secretlint/secretlint-rule-privatekey")).toBe("privatekey");
  });

  it("never cuts a JSON escape in half", () => {
    const text = String.raw`a\nb\\c\u00e9d`;
    expect(widenToJsonEscapes(text, 2, 3)).toEqual({ start: 1, end: 3 }); // start inside "\n"
    expect(widenToJsonEscapes(text, 4, 5)).toEqual({ start: 4, end: 6 }); // end inside "\\"
    expect(widenToJsonEscapes(text, 9, 10)).toEqual({ start: 7, end: 13 }); // inside "\u00e9"
    expect(widenToJsonEscapes(text, 6, 7)).toEqual({ start: 6, end: 7 }); // "c": nothing to widen
  });

  it("keeps any JSON string valid whatever range inside it is redacted (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), fc.nat(), fc.nat(), (value, a, b) => {
        const json = JSON.stringify({ text: value });
        const inner = { from: 9, to: json.length - 2 }; // between the quotes of the value
        const span = inner.to - inner.from;
        const start = inner.from + (span === 0 ? 0 : a % span);
        const end = Math.min(inner.to, start + (span === 0 ? 0 : b % (span + 1)));
        const out = applyRedactions(json, [{ start, end, kind: "pattern", id: "r", label: "thing" }]);
        expect(() => JSON.parse(out.text)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});
