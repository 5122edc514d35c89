// The demo's Claude Code section: the real `claude` of the agent image, in a bottle whose
// `model` section holds an API key, driven by the project's scripted Messages-API server
// (answering as api.anthropic.com on the demo's own network; never the real API). Claude
// meets a denial, asks over supervise, is approved by the demo, fetches the host, and has
// a push with an AWS key rejected by the gate.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DEMO_HOSTS, scriptedPrompt, startMessagesApi } from "@bottle/test-utils";

const AWS_SECRET = "k8Jd2PqL9xZ3vN7bR1tY5wH0mC4sF6gA2eU8iO3n";

/**
 * Runs the section; `bottle`, `bottleAsync`, `section` and `check` come from demo.mjs.
 * Returns a cleanup function (stop the bottle, remove the server).
 */
export async function claudeSection({ world, bottle, bottleAsync, section, check }) {
  section("5. Claude Code itself in a bottle, its API key held by egress");
  const api = await startMessagesApi({ name: "bottle-test-demo-messages-api", network: world.network });
  const caBundle = path.join(world.dir, "demo-claude-ca.pem");
  writeFileSync(caBundle, readFileSync(world.material.caFile, "utf8") + readFileSync(api.caFile, "utf8"));
  const apiKey = "sk-ant-api03-demo-real-key-held-by-egress-only-7c41e9";
  const manifest = {
    extraCaBundle: caBundle,
    bottles: {
      claude: {
        model: { auth: "api-key", credential: { env: "BOTTLE_DEMO_ANTHROPIC_KEY" } },
        git: {
          upstreams: [
            {
              name: "app",
              url: `ssh://git@${DEMO_HOSTS.git}/srv/git/app.git`,
              credential: { file: world.material.clientKeyFile },
              knownHostKey: world.material.knownHostLine(DEMO_HOSTS.git),
              protectedBranches: ["main"],
            },
          ],
        },
      },
    },
  };
  const manifestPath = path.join(world.dir, "claude.bottle.json");
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  const env = { ...world.env, BOTTLE_DEMO_ANTHROPIC_KEY: apiKey };
  bottle(["start", "claude", "--detach", "-f", manifestPath], env, { inherit: true });
  const plan = JSON.parse(bottle(["plan", "claude", "-f", manifestPath, "--json"], env));
  api.attach(plan.networks.egress);
  world.connectToBottle(plan.networks.egress);
  const cleanup = () => {
    api.detach(plan.networks.egress);
    world.disconnectFromBottles();
    try {
      bottle(["stop", plan.slug], env, { inherit: true });
    } finally {
      api.remove();
    }
  };

  try {
    await converse({ world, plan, env, api, apiKey, bottle, bottleAsync, check });
  } catch (error) {
    cleanup();
    throw error;
  }
  return cleanup;
}

async function converse({ world, plan, env, api, apiKey, bottle, bottleAsync, check }) {
  const url = `https://${DEMO_HOSTS.late}/report`;
  // The key is assembled by the command, so the prompt itself carries none.
  const push =
    `cd /workspace && git clone -q ssh://git@${DEMO_HOSTS.git}/srv/git/app.git && cd app && ` +
    `printf 'aws_access_key_id = AKIA%s\\naws_secret_access_key = %s%s\\n' 4HK3Q7ZP2XW9RT6M ${AWS_SECRET.slice(0, 20)} ${AWS_SECRET.slice(20)} > creds.ini && ` +
    `git add creds.ini && git commit -qm 'add creds' && git push origin HEAD:main 2>&1; echo exit=$?`;
  const prompt = scriptedPrompt(
    [
      { tool: "Bash", input: { command: `curl -sS -m 20 ${url}`, description: "fetch the report" } },
      { tool: "mcp__supervise__request_egress_route", input: { host: DEMO_HOSTS.late, methods: ["GET"], reason: "the task needs the report", wait_seconds: 120 } },
      { tool: "Bash", input: { command: `curl -sS -m 20 ${url}`, description: "fetch the report again" } },
      { tool: "Bash", input: { command: push, description: "push the credentials file" } },
    ],
    "demo",
  );
  process.stdout.write(`  $ bottle exec ${plan.slug} -- claude -p --dangerously-skip-permissions '<scripted task>'\n`);
  const conversation = bottleAsync(["exec", plan.slug, "--", "claude", "-p", "--dangerously-skip-permissions", prompt], env);
  let pending;
  for (let i = 0; i < 300 && !pending; i++) {
    const rows = JSON.parse(bottle(["requests", plan.slug, "--json"], env));
    pending = rows.find((r) => r.request?.host === DEMO_HOSTS.late);
    if (!pending) await new Promise((r) => setTimeout(r, 200));
  }
  check("Claude asked over supervise for the denied host", Boolean(pending), pending ? `${pending.id}: ${pending.request.reason}` : "no request arrived");
  if (pending) process.stdout.write(`  $ bottle approve ${pending.id}\n  ${bottle(["approve", pending.id], env).trim()}\n`);
  const result = await conversation;

  const turns = api.requests().filter((r) => r.url.startsWith("/v1/messages") && r.json?.tools?.some((t) => t.name === "Bash"));
  const toolResult = (n) => turns[n]?.body ?? "";
  check("the first fetch was denied, with guidance to ask", toolResult(1).includes("request_egress_route"));
  check("the approval reached Claude as live", toolResult(2).includes("already live"));
  check(`after approval Claude fetched ${DEMO_HOSTS.late}`, world.upstream.requests().some((r) => r.host === DEMO_HOSTS.late && r.url === "/report"));
  const head = world.upstream.git("app", ["log", "-1", "--format=%s", "main"]);
  check("Claude's push with an AWS key was rejected, upstream unchanged", toolResult(4).includes("exit=1") && head !== "add creds", `upstream main: ${head}`);
  const requests = api.requests();
  check("every model request carried the real key, never the placeholder", requests.length > 0 && requests.every((r) => r.headers["x-api-key"] === undefined || r.headers["x-api-key"] === apiKey) && !JSON.stringify(requests).includes("bottle-placeholder"));
  check("Claude finished its task (exit 0)", result.code === 0, result.out.trim().split("\n").slice(-4).join("\n"));
}
