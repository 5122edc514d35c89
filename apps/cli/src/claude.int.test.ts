// Claude Code itself in a bottle: the REAL `claude` of the agent image, in real bottles,
// against a scripted Messages-API server of our own (tools/test-utils messages-api) that
// answers as api.anthropic.com on a network this test creates, with TLS from a test CA the
// bottles trust through the manifest's extraCaBundle. Nothing talks to the real API.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildUpstreamImage, docker, dockerOk, scriptedPrompt, startMessagesApi, type MessagesApi, type RecordedModelRequest } from "@bottle/test-utils";

const cliBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");
const run = randomBytes(3).toString("hex");
const network = `bottle-test-claude-${run}-net`;
const LATE_HOST = "late.claude.test";
const API_KEY = `sk-ant-api03-bottle-test-${randomBytes(12).toString("hex")}`;
const OAUTH_TOKEN = `sk-ant-oat01-bottle-test-${randomBytes(12).toString("hex")}`;
// An AWS-shaped key pair, as a test fixture or a config file would carry it. The command
// that prints it assembles it from pieces, so the prompt itself carries no key.
const AWS_SECRET = "k8Jd2PqL9xZ3vN7bR1tY5wH0mC4sF6gA2eU8iO3n";
const PRINT_AWS_KEYS = `printf 'aws_access_key_id = AKIA%s\\naws_secret_access_key = %s%s\\n' 4HK3Q7ZP2XW9RT6M ${AWS_SECRET.slice(0, 20)} ${AWS_SECRET.slice(20)}`;

type Variant = "apikey" | "oauth";
const VARIANTS: Variant[] = ["apikey", "oauth"];
interface Plan {
  slug: string;
  networks: { egress: string };
  machines: { agent: string };
}

let api: MessagesApi;
let dir: string;
let manifestPath: string;
const plans = {} as Record<Variant, Plan>;
const env = { BOTTLE_TEST_ANTHROPIC_KEY: API_KEY, XDG_STATE_HOME: "" };

function bottle(args: string[], options: { allowFail?: boolean } = {}) {
  const res = spawnSync(process.execPath, [cliBin, ...args], { env: { ...process.env, ...env }, encoding: "utf8" });
  if (res.status !== 0 && !options.allowFail) throw new Error(`bottle ${args.join(" ")} → ${res.status}\n${res.stdout}\n${res.stderr}`);
  return { code: res.status ?? 1, stdout: res.stdout, stderr: res.stderr };
}

function bottleAsync(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliBin, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

/** `claude -p` in the bottle's agent, through `bottle exec` (as user node, in /workspace). */
const claudePrint = (variant: Variant, prompt: string) => bottleAsync(["exec", plans[variant].slug, "--", "claude", "-p", "--dangerously-skip-permissions", prompt]);

const modelRequests = () => api.requests().filter((r) => r.host === "api.anthropic.com");
const mainTurns = (requests: RecordedModelRequest[], marker: string) =>
  requests.filter((r) => r.url.startsWith("/v1/messages") && r.json?.tools?.some((t) => t.name === "Bash") && r.body.includes(marker));

async function waitUntil<T>(what: string, probe: () => T | undefined | false, attempts = 150, everyMs = 200): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  buildUpstreamImage();
  dir = mkdtempSync(path.join(os.tmpdir(), "bottle-claude-test-"));
  env.XDG_STATE_HOME = path.join(dir, "state");
  dockerOk(["network", "rm", network]);
  docker(["network", "create", "--label", "dev.bottle.test=1", network]);
  api = await startMessagesApi({ name: `bottle-test-claude-${run}-api`, network, hosts: ["api.anthropic.com", LATE_HOST] });
  const tokenFile = path.join(dir, "claude-oauth-token");
  writeFileSync(tokenFile, `${OAUTH_TOKEN}\n`, { mode: 0o600 });
  const manifest = {
    extraCaBundle: api.caFile,
    bottles: {
      apikey: { model: { auth: "api-key", credential: { env: "BOTTLE_TEST_ANTHROPIC_KEY" } } },
      oauth: { model: { auth: "oauth-token", credential: { file: tokenFile } } },
    },
  };
  manifestPath = path.join(dir, "bottle.json");
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  const started = await Promise.all(VARIANTS.map((name) => bottleAsync(["start", name, "--detach", "--no-build", "-f", manifestPath])));
  started.forEach((s, i) => expect(s.code, `start ${VARIANTS[i]}: ${s.out}`).toBe(0));
  for (const name of VARIANTS) {
    plans[name] = JSON.parse(bottle(["plan", name, "-f", manifestPath, "--json"]).stdout) as Plan;
    api.attach(plans[name].networks.egress);
  }
}, 600_000);

afterAll(() => {
  for (const name of VARIANTS) {
    if (!plans[name]) continue;
    api?.detach(plans[name].networks.egress);
    bottle(["stop", plans[name].slug], { allowFail: true });
  }
  api?.remove();
  dockerOk(["network", "rm", network]);
}, 300_000);

describe.each(VARIANTS)("Claude Code with the %s credential", (variant) => {
  it("holds only a placeholder: the real credential is nowhere in the agent", () => {
    const secret = variant === "apikey" ? API_KEY : OAUTH_TOKEN;
    const res = spawnSync("docker", ["exec", "-u", "node", plans[variant].machines.agent, "sh", "-c", `env; cat ~/.claude.json; grep -rlF -- '${secret}' /home /workspace /etc /tmp 2>/dev/null; true`], { encoding: "utf8" });
    expect(res.stdout).not.toContain(secret);
    expect(res.stdout).toContain(variant === "apikey" ? "ANTHROPIC_API_KEY=bottle-placeholder-" : "CLAUDE_CODE_OAUTH_TOKEN=bottle-placeholder-");
  });

  it("keeps a conversation going when a tool result holds an AWS key: the upstream gets it redacted", async () => {
    const marker = `redact-${variant}-${run}`;
    const prompt = scriptedPrompt([{ tool: "Bash", input: { command: PRINT_AWS_KEYS, description: "print the fixture" } }], marker);
    const res = await claudePrint(variant, prompt);
    expect(res.code, res.out).toBe(0);
    // the model answered after the tool result: the conversation was not killed by a 403
    expect(res.out).toContain("SCRIPT DONE");
    const turns = mainTurns(modelRequests(), marker);
    expect(turns.length).toBe(2);
    // control: the prompt went out untouched; the key first appears in the tool result
    expect(turns[0]!.body).not.toContain("[REDACTED");
    const followUp = turns[1]!.body;
    expect(followUp).toContain("tool_result");
    expect(followUp).toContain("[REDACTED");
    expect(followUp).not.toContain(AWS_SECRET);
    // what the model saw back is what the agent prints: the marker, not the key
    expect(res.out).toContain("[REDACTED");
    expect(res.out).not.toContain(AWS_SECRET);
  });
});

describe("the model credential on the wire", () => {
  it("reaches the upstream as the real credential on every request, never a placeholder", () => {
    const requests = modelRequests();
    const byKey = requests.filter((r) => r.headers["x-api-key"] !== undefined);
    const byToken = requests.filter((r) => r.headers["authorization"] !== undefined);
    // both bottles talked to the model (Messages API and start-up calls)
    expect(byKey.some((r) => r.url.startsWith("/v1/messages"))).toBe(true);
    expect(byToken.some((r) => r.url.startsWith("/v1/messages"))).toBe(true);
    for (const r of requests) {
      const credential = r.headers["x-api-key"] ?? r.headers["authorization"];
      if (credential === undefined) continue; // e.g. the unauthenticated connectivity check
      expect([API_KEY, `Bearer ${OAUTH_TOKEN}`], `${r.method} ${r.url}`).toContain(credential);
      // one credential per request: an agent-sent header of the other kind was stripped
      expect(r.headers["x-api-key"] !== undefined && r.headers["authorization"] !== undefined, `${r.url}`).toBe(false);
    }
    expect(JSON.stringify(requests)).not.toContain("bottle-placeholder");
    // OAuth requests carry the beta flag Claude Code adds for subscription tokens
    expect(byToken.filter((r) => r.url.startsWith("/v1/messages")).every((r) => r.headers["anthropic-beta"]?.includes("oauth-2025-04-20"))).toBe(true);
  });
});

describe.each(VARIANTS)("an interactive start (%s) under a pseudo-terminal", (variant) => {
  it("reaches the prompt with no dialog and no warning, answers, and ends when the terminal goes away", async () => {
    const socket = `bottle-test-claude-${run}`;
    const session = `claude-${variant}`;
    const tmux = (...args: string[]) => spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
    const screen = () => tmux("capture-pane", "-p", "-t", session).stdout ?? "";
    const agent = plans[variant].machines.agent;
    const claudeRunning = () => spawnSync("docker", ["exec", agent, "sh", "-c", "ps -eo args | grep -v grep | grep -c '^claude$'"], { encoding: "utf8" }).stdout.trim() !== "0";
    const command = [process.execPath, cliBin, "exec", plans[variant].slug, "--", "claude"].map((a) => `'${a}'`).join(" ");
    const since = new Date().toISOString();
    const started = tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-e", `XDG_STATE_HOME=${env.XDG_STATE_HOME}`, `${command}; sleep 300`);
    expect(started.status, started.stderr).toBe(0);
    try {
      const atPrompt = await waitUntil("the prompt", () => /^❯/m.test(screen()) && screen(), 150);
      expect(atPrompt).toContain("Claude Code");
      expect(atPrompt).toContain("/workspace");
      const noDialogNoWarning = (text: string) => {
        for (const unwanted of [/trust/i, /onboarding/i, /theme/i, /Detected a custom API key/i, /Not logged in/i, /Unable to connect/i, /403/, /fail/i, /error/i, /warn/i, /login/i]) {
          expect(text, `screen shows ${unwanted}:\n${text}`).not.toMatch(unwanted);
        }
      };
      noDialogNoWarning(atPrompt);
      tmux("send-keys", "-t", session, "-l", "hello from the terminal");
      tmux("send-keys", "-t", session, "Enter");
      const answered = await waitUntil("the scripted answer", () => screen().includes("Hello from the scripted model.") && screen(), 150);
      // warnings of start-up calls that fail late would show by now
      noDialogNoWarning(answered);
      expect(claudeRunning()).toBe(true);
      // and egress refused nothing Claude Code asked for (statuses are the scripted server's)
      const audit = readFileSync(path.join(env.XDG_STATE_HOME, "bottle", plans[variant].slug, "bundle", "audit", "egress.jsonl"), "utf8");
      const refused = audit.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { time: string; decision: string; host: string; path: string })
        .filter((r) => r.time >= since && r.host !== LATE_HOST && r.decision !== "allow" && r.decision !== "redact");
      expect(refused).toEqual([]);
    } finally {
      // The terminal goes away: the tmux server and its pty close.
      tmux("kill-server");
    }
    await waitUntil("claude to end in the agent", () => !claudeRunning(), 75);
  });
});

describe("asking for a host over supervise, with the real client", () => {
  it("meets a denial, asks, is approved by the human, and reaches the host", async () => {
    const marker = `approve-${run}`;
    const url = `https://${LATE_HOST}/hello-after-approval`;
    const prompt = scriptedPrompt(
      [
        { tool: "Bash", input: { command: `curl -sS -m 20 ${url}`, description: "fetch the page" } },
        { tool: "mcp__supervise__request_egress_route", input: { host: LATE_HOST, ports: [443], methods: ["GET"], reason: "the task needs this page", wait_seconds: 120 } },
        { tool: "Bash", input: { command: `curl -sS -m 20 ${url}`, description: "fetch the page again" } },
      ],
      marker,
    );
    const conversation = claudePrint("apikey", prompt);
    const request = await waitUntil("a pending request", () => {
      const rows = JSON.parse(bottle(["requests", plans.apikey.slug, "--json"]).stdout) as Array<{ id: string; request: { host: string } }>;
      return rows.find((r) => r.request.host === LATE_HOST);
    }, 300);
    const approved = bottle(["approve", request.id]);
    expect(approved.stdout).toContain("already live");
    const res = await conversation;
    expect(res.code, res.out).toBe(0);

    const turns = mainTurns(modelRequests(), marker);
    expect(turns.length).toBe(4);
    // 1: the denial, with guidance to ask over supervise
    expect(turns[1]!.body).toContain("request_egress_route");
    expect(turns[1]!.body).toMatch(/denied/);
    // 2: the tool answered with the decision, and the route was already live
    expect(turns[2]!.body).toContain("already live");
    // 3: the host answered (our server's 404 for that path)
    expect(turns[3]!.body).toContain("scripted server: no GET /hello-after-approval");
    expect(api.requests().some((r) => r.host === LATE_HOST && r.url === "/hello-after-approval")).toBe(true);
    expect(res.out).toContain("scripted server: no GET /hello-after-approval");
  });
});
