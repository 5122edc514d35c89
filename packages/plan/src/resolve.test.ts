import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { BottleError } from "@bottle/errors";
import { parseManifest } from "@bottle/manifest";
import { describe, expect, it } from "vitest";
import { insteadOfForms, MODEL_PLACEHOLDERS, mergeExtraHosts, renderClaudeCodeState, resolvePlan } from "./index.js";

const require = createRequire(import.meta.url);
const example = parseManifest(readFileSync(require.resolve("@bottle/manifest/bottle.example.json"), "utf8"));
const manifestPath = "/home/dev/project/bottle.json";

describe("resolvePlan", () => {
  it("is deterministic: same input, byte-identical JSON", () => {
    const a = JSON.stringify(resolvePlan(example, "implementer", { manifestPath }));
    const b = JSON.stringify(resolvePlan(parseManifest(readFileSync(require.resolve("@bottle/manifest/bottle.example.json"), "utf8")), "implementer", { manifestPath }));
    expect(a).toBe(b);
  });

  it("names everything after a slug tied to manifest and bottle", () => {
    const plan = resolvePlan(example, "implementer", { manifestPath });
    expect(plan.slug).toMatch(/^implementer-[0-9a-f]{8}$/);
    expect(plan.composeProject).toBe(`bottle-${plan.slug}`);
    expect(plan.networks).toEqual({ internal: `bottle-${plan.slug}-internal`, egress: `bottle-${plan.slug}-egress` });
    expect(resolvePlan(example, "implementer", { manifestPath: "/other/bottle.json" }).slug).not.toBe(plan.slug);
    expect(plan.labels["dev.bottle.slug"]).toBe(plan.slug);
  });

  it("routes the agent through egress, with pipelock after egress when enabled", () => {
    const plain = resolvePlan(example, "implementer", { manifestPath });
    expect(plain.proxyChain.map((h) => h.name)).toEqual(["agent", "egress", "internet"]);
    expect(plain.agent.env.HTTPS_PROXY).toBe("http://egress:8080");
    expect(plain.agent.env.NO_PROXY).toBe("localhost,127.0.0.1,git-gate,supervise");
    expect(plain.ca.egressTrustsBottleCaUpstream).toBe(false);

    const dlp = resolvePlan(example, "reviewer", { manifestPath });
    expect(dlp.proxyChain).toEqual([{ name: "agent" }, { name: "egress", url: "http://egress:8080" }, { name: "pipelock", url: "http://127.0.0.1:8888" }, { name: "internet" }]);
    expect(dlp.ca).toMatchObject({ agentTrusts: "bottle-ca", egressTrustsBottleCaUpstream: true });
    const egress = dlp.bundle.daemons.find((d) => d.name === "egress")!;
    expect(egress.command).toContain("--upstream-proxy");
    expect(dlp.bundle.daemons.map((d) => d.name)).toEqual(["pipelock", "egress", "supervise"]);
  });

  it("keeps secret values out: only references under stable ids", () => {
    const plan = resolvePlan(example, "implementer", { manifestPath });
    expect(plan.secrets).toEqual([
      { id: "model.credential", source: { env: "ANTHROPIC_API_KEY" }, usedBy: "egress" },
      { id: "route.r0-api.github.com.authorization", source: { file: "~/.config/bottle/github-token" }, usedBy: "egress" },
      { id: "git.app.credential", source: { file: "~/.ssh/bottle_app_ed25519" }, usedBy: "git-gate" },
      { id: "git.docs.credential", source: { env: "GITEA_TOKEN" }, usedBy: "git-gate" },
    ]);
    expect(plan.routes[1]!.inject).toEqual([{ header: "authorization", secret: "route.r0-api.github.com.authorization", prefix: "Bearer " }]);
    const agentEnv = JSON.stringify(plan.agent.env);
    expect(agentEnv).not.toMatch(/GITEA_TOKEN|github-token/);
    expect(plan.agent.env.ANTHROPIC_API_KEY).toBe(MODEL_PLACEHOLDERS["api-key"]);
  });

  it("plans git upstreams behind the gate with every URL form rewritten", () => {
    const plan = resolvePlan(example, "implementer", { manifestPath });
    const app = plan.git.upstreams[0]!;
    expect(app).toMatchObject({ name: "app", transport: "ssh", gateUrl: "git://git-gate/app.git", credential: "git.app.credential" });
    expect(app.insteadOf).toEqual(expect.arrayContaining(["git@github.com:example/app.git", "ssh://git@github.com/example/app.git", "https://github.com/example/app"]));
    expect(plan.git.extraHosts).toEqual({ "gitea.internal.example": "10.20.0.5" });
    expect(plan.bundle.daemons.map((d) => d.name)).toEqual(["egress", "git-gate", "supervise"]);
  });

  it("addresses the bundle by IP on smolvm", () => {
    const plan = resolvePlan(example, "implementer", { manifestPath, backend: "smolvm", bundleAddress: "192.168.127.2" });
    expect(plan.backend).toBe("smolvm");
    expect(plan.git.upstreams[0]!.gateUrl).toBe("git://192.168.127.2:9418/app.git");
    expect(plan.supervise.url).toBe("http://192.168.127.2:9100/mcp");
    expect(plan.agent.env.HTTP_PROXY).toBe("http://192.168.127.2:8080");
  });

  it("resolves host paths against the manifest folder", () => {
    const plan = resolvePlan(example, "implementer", { manifestPath });
    expect(plan.agent.prompt).toEqual({ hostPath: "/home/dev/project/prompts/implementer.md", guestPath: "/home/node/.bottle/prompt.md" });
    expect(plan.agent.skills[0]).toEqual({ hostPath: "/home/dev/project/skills/review", guestPath: "/home/node/.claude/skills/review" });
    expect(plan.agent.workspace).toEqual({ hostPath: "/home/dev/project", guestPath: "/workspace", mode: "copy", copyGit: true });
    expect(resolvePlan(example, "implementer", { manifestPath, workspace: "/src/other" }).agent.workspace?.hostPath).toBe("/src/other");
  });

  it("explains an unknown bottle with a suggestion", () => {
    try {
      resolvePlan(example, "implementor", { manifestPath });
      expect.unreachable();
    } catch (error) {
      expect(BottleError.isInstance(error)).toBe(true);
      expect((error as BottleError).hint).toBe('did you mean "implementer"?');
    }
  });

  it("refuses agent env that would bypass the proxy", () => {
    const manifest = parseManifest(JSON.stringify({ bottles: { a: { agent: { env: { HTTPS_PROXY: "http://evil:1" } } } } }));
    expect(() => resolvePlan(manifest, "a", { manifestPath })).toThrow(/may not set HTTPS_PROXY/);
  });
});

describe("mergeExtraHosts", () => {
  it("merges agreeing entries and names both upstreams on conflict", () => {
    expect(mergeExtraHosts([{ name: "a", extraHosts: { h: "10.0.0.1" } }, { name: "b", extraHosts: { h: "10.0.0.1", g: "10.0.0.2" } }])).toEqual({ g: "10.0.0.2", h: "10.0.0.1" });
    expect(() => mergeExtraHosts([{ name: "one", extraHosts: { h: "10.0.0.1" } }, { name: "two", extraHosts: { h: "10.0.0.9" } }])).toThrow(/"one" and "two" map h/);
  });
});

describe("insteadOfForms", () => {
  it("covers ssh, scp-like and https forms with and without .git", () => {
    expect(insteadOfForms("https://example.com/team/docs.git")).toEqual([
      "https://example.com/team/docs.git",
      "git@example.com:team/docs.git",
      "ssh://git@example.com/team/docs.git",
      "git@example.com:team/docs",
      "ssh://git@example.com/team/docs",
      "https://example.com/team/docs",
    ]);
    expect(insteadOfForms("ssh://git@host:2222/r.git")).toEqual(["ssh://git@host:2222/r.git", "ssh://git@host:2222/r"]);
  });

  describe("the model section", () => {
    const manifest = (model: Record<string, unknown>, agent: Record<string, unknown> = {}) =>
      parseManifest(JSON.stringify({ bottles: { impl: { model, agent } } }));

    it("plans an API key: the route Claude Code needs, x-api-key injected, every credential header the agent sends stripped", () => {
      const plan = resolvePlan(manifest({ auth: "api-key", credential: { env: "MY_KEY" } }), "impl", { manifestPath });
      expect(plan.routes).toEqual([
        {
          id: "model",
          host: "api.anthropic.com",
          ports: [443],
          methods: ["GET", "HEAD", "POST"],
          paths: ["/v1/messages", "/api/claude_code/settings", "/api/claude_code/policy_limits", "/api/hello"],
          inject: [{ header: "x-api-key", secret: "model.credential", prefix: "" }],
          stripHeaders: ["x-api-key", "authorization"],
          passthrough: false,
          scan: true,
          onFinding: "redact",
        },
      ]);
      expect(plan.secrets).toEqual([{ id: "model.credential", source: { env: "MY_KEY" }, usedBy: "egress" }]);
      expect(plan.agent.env).toMatchObject({ ANTHROPIC_API_KEY: MODEL_PLACEHOLDERS["api-key"], CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", DISABLE_AUTOUPDATER: "1" });
      expect(plan.agent.env).not.toHaveProperty("ANTHROPIC_BASE_URL");
      expect(plan.agent.model).toMatchObject({ auth: "api-key", envVar: "ANTHROPIC_API_KEY", route: "model" });
    });

    it("plans a subscription token behind a gateway: Bearer injected, base URL and path prefix carried over", () => {
      const plan = resolvePlan(manifest({ auth: "oauth-token", credential: { file: "tok" }, baseUrl: "https://llm-gateway.example.com:8443/anthropic/" }), "impl", { manifestPath });
      expect(plan.routes[0]).toMatchObject({
        host: "llm-gateway.example.com",
        ports: [8443],
        paths: ["/anthropic/v1/messages", "/anthropic/api/claude_code/settings", "/anthropic/api/claude_code/policy_limits", "/anthropic/api/hello"],
        inject: [{ header: "authorization", secret: "model.credential", prefix: "Bearer " }],
      });
      expect(plan.secrets[0]!.source).toEqual({ file: "/home/dev/project/tok" });
      expect(plan.agent.env).toMatchObject({ CLAUDE_CODE_OAUTH_TOKEN: MODEL_PLACEHOLDERS["oauth-token"], ANTHROPIC_BASE_URL: "https://llm-gateway.example.com:8443/anthropic" });
      expect(plan.agent.env).not.toHaveProperty("ANTHROPIC_API_KEY");
    });

    it("keeps placeholders unlike any key format", () => {
      for (const placeholder of Object.values(MODEL_PLACEHOLDERS)) expect(placeholder).not.toMatch(/^sk-/);
    });

    it("seeds Claude Code's state: onboarding done, the workspace trusted, the placeholder key approved by its last 20 characters", () => {
      const plan = resolvePlan(manifest({ auth: "api-key", credential: { env: "K" } }), "impl", { manifestPath });
      expect(plan.agent.workdir).toBe("/workspace");
      const state = JSON.parse(renderClaudeCodeState(plan));
      expect(state).toMatchObject({ hasCompletedOnboarding: true, projects: { "/workspace": { hasTrustDialogAccepted: true } } });
      expect(state.customApiKeyResponses).toEqual({ approved: [MODEL_PLACEHOLDERS["api-key"].slice(-20)], rejected: [] });
      const oauth = JSON.parse(renderClaudeCodeState(resolvePlan(manifest({ auth: "oauth-token", credential: { env: "K" } }), "impl", { manifestPath })));
      expect(oauth).not.toHaveProperty("customApiKeyResponses");
    });
  });
});
