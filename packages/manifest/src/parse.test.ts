import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ManifestError, manifestJsonSchema, parseManifest } from "./index.js";

const example = readFileSync(new URL("../bottle.example.json", import.meta.url), "utf8");

function problemsOf(value: unknown) {
  try {
    parseManifest(typeof value === "string" ? value : JSON.stringify(value), { file: "bottle.json" });
  } catch (error) {
    expect(ManifestError.isInstance(error)).toBe(true);
    return (error as ManifestError).problems;
  }
  throw new Error("expected the manifest to be rejected");
}

describe("parseManifest", () => {
  it("accepts the shipped example and fills safe defaults", () => {
    const manifest = parseManifest(example);
    expect(Object.keys(manifest.bottles)).toEqual(["implementer", "reviewer"]);
    const reviewer = manifest.bottles.reviewer!;
    expect(reviewer.backend).toBe("docker");
    expect(reviewer.supervise.enabled).toBe(true);
    expect(reviewer.git.upstreams).toEqual([]);
    expect(reviewer.model).toEqual({ auth: "oauth-token", credential: { file: "~/.config/bottle/claude-oauth-token" } });
    const implementer = manifest.bottles.implementer!;
    expect(implementer.egress.routes[0]!.ports).toEqual([443]);
    expect(implementer.egress.routes[0]!.scan).toBe(true);
  });

  describe("the model section", () => {
    const withModel = (bottle: Record<string, unknown>) => ({ bottles: { impl: { model: { auth: "api-key", credential: { env: "ANTHROPIC_API_KEY" } }, ...bottle } } });

    it("accepts an API key, a subscription token and a gateway", () => {
      expect(parseManifest(JSON.stringify(withModel({}))).bottles.impl!.model).toEqual({ auth: "api-key", credential: { env: "ANTHROPIC_API_KEY" } });
      const gateway = { model: { auth: "oauth-token", credential: { file: "~/.claude-token" }, baseUrl: "https://llm-gateway.example.com/anthropic" } };
      expect(parseManifest(JSON.stringify(withModel(gateway))).bottles.impl!.model!.baseUrl).toBe("https://llm-gateway.example.com/anthropic");
    });

    it("refuses the model variables in agent.env when the model section sets them", () => {
      const problems = problemsOf(withModel({ agent: { env: { ANTHROPIC_API_KEY: "bottle-placeholder", CLAUDE_CODE_OAUTH_TOKEN: "x" } } }));
      expect(problems.map((p) => p.path)).toEqual(["bottles.impl.agent.env.ANTHROPIC_API_KEY", "bottles.impl.agent.env.CLAUDE_CODE_OAUTH_TOKEN"]);
      expect(problems[0]!.message).toMatch(/set by the `model` section/);
      expect(problems[0]!.hint).toMatch(/model\.credential/);
    });

    it("points a pasted key in agent.env at the model section", () => {
      const [problem] = problemsOf({ bottles: { impl: { agent: { env: { ANTHROPIC_API_KEY: "sk-ant-api03-abc" } } } } });
      expect(problem).toMatchObject({ path: "bottles.impl.agent.env.ANTHROPIC_API_KEY", message: expect.stringMatching(/literal secret/) });
      expect(problem!.hint).toMatch(/"model"/);
      expect(problem!.hint).not.toMatch(/add the host as a route/);
    });

    it("refuses a literal credential, an unknown auth, credentials in the base URL and a second route to the model host", () => {
      const problems = problemsOf({
        bottles: {
          impl: {
            model: { auth: "password", credential: "sk-ant-api03-abcdefabcdef", baseUrl: "https://user:pw@gw.example.com" },
            egress: { routes: [{ host: "gw.example.com" }] },
          },
        },
      });
      const byPath = Object.fromEntries(problems.map((p) => [p.path, p]));
      expect(byPath["bottles.impl.model.auth"]!.hint).toMatch(/api-key/);
      expect(byPath["bottles.impl.model.credential"]!.message).toMatch(/literal secret/);
      expect(byPath["bottles.impl.model.baseUrl"]!.message).toMatch(/credentials in the URL/);
      expect(byPath["bottles.impl.egress.routes[0].host"]!.message).toMatch(/already routed by the `model` section/);
    });

    it("wants an https base URL", () => {
      expect(problemsOf(withModel({ model: { auth: "api-key", credential: { env: "K" }, baseUrl: "http://gw.example.com" } }))[0]!.path).toBe("bottles.impl.model.baseUrl");
    });
  });

  it("defaults to deny-all egress with supervise on", () => {
    const manifest = parseManifest(JSON.stringify({ bottles: { empty: {} } }));
    expect(manifest.bottles.empty!.egress.routes).toEqual([]);
    expect(manifest.bottles.empty!.supervise.enabled).toBe(true);
    expect(manifest.bottles.empty!.pipelock.enabled).toBe(false);
  });

  it("reports every problem at once, each with a path", () => {
    const problems = problemsOf({
      bottles: {
        impl: {
          agnt: {},
          backend: "podman",
          egress: { routes: [{ host: "https://api.example.com", inject: { "x-api-key": "sk-ant-api03-abcdefghijklmnopqrstuvwxyz" } }] },
          git: { upstreams: [{ name: "app", url: "git@github.com:o/r.git", credential: "ghp_abcdefghijklmnopqrstuvwxyz0123456789" }] },
        },
      },
    });
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p]));
    expect(byPath["bottles.impl.agnt"]).toMatchObject({ message: 'unknown key "agnt"', hint: 'did you mean "agent"?' });
    expect(byPath["bottles.impl.backend"]?.hint).toContain('"docker"');
    expect(byPath["bottles.impl.egress.routes[0].host"]?.hint).toContain("without scheme");
    expect(byPath["bottles.impl.egress.routes[0].inject.x-api-key"]?.message).toBe("looks like a literal secret");
    expect(byPath["bottles.impl.git.upstreams[0].credential"]?.message).toBe("looks like a literal secret");
    expect(byPath["bottles.impl.git.upstreams[0].knownHostKey"]?.message).toContain("pinned host key");
    expect(problems).toHaveLength(6);
  });

  it("never echoes a literal secret in the error text", () => {
    const secret = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    try {
      parseManifest(JSON.stringify({ bottles: { a: { egress: { routes: [{ host: "x.com", inject: { authorization: secret } }] } } } }));
      expect.unreachable();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain(secret);
    }
  });

  it("flags credentials pasted into agent env and into URLs", () => {
    const problems = problemsOf({
      bottles: {
        a: {
          agent: { env: { GITHUB_TOKEN: "ghp_abcdefghijklmnopqrstuvwxyz0123456789", LOG_LEVEL: "debug" } },
          git: { upstreams: [{ name: "x", url: "https://bot:tok@example.com/r.git" }] },
        },
      },
    });
    expect(problems.map((p) => p.path).sort()).toEqual(["bottles.a.agent.env.GITHUB_TOKEN", "bottles.a.git.upstreams[0].url"]);
  });

  it("requires exactly one secret source per injected header", () => {
    const problems = problemsOf({ bottles: { a: { egress: { routes: [{ host: "x.com", inject: { authorization: { env: "A", file: "/b" } } }] } } } });
    expect(problems[0]).toMatchObject({ path: "bottles.a.egress.routes[0].inject.authorization", message: "needs exactly one of `env` or `file`" });
  });

  it("reports invalid JSON with line and column", () => {
    const problems = problemsOf('{\n  "bottles": {\n    "a": {},\n  }\n}');
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toMatch(/^invalid JSON at line 4, column 3/);
  });

  it("rejects duplicate upstream names and bad bottle names", () => {
    const problems = problemsOf({
      bottles: { "Bad Name": {}, ok: { git: { upstreams: [{ name: "a", url: "https://h/a.git" }, { name: "a", url: "https://h/b.git" }] } } },
    });
    expect(problems.map((p) => p.path)).toContain("bottles.ok.git.upstreams[1].name");
    expect(problems.map((p) => p.path)).toContain(`bottles["Bad Name"]`);
  });
});

describe("manifestJsonSchema", () => {
  it("describes bottles and rejects unknown keys, like the parser", () => {
    const schema = manifestJsonSchema() as { properties: Record<string, unknown>; additionalProperties: unknown };
    expect(Object.keys(schema.properties)).toEqual(["$schema", "extraCaBundle", "bottles"]);
    expect(schema.additionalProperties).toBe(false);
    expect(JSON.stringify(schema)).toContain("knownHostKey");
  });
});
