import type { BottlePlan, EgressRoutePlan } from "@bottle/plan";
import { BottleError } from "@bottle/errors";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { canonicalCidr, PIPELOCK_DEFAULT_PATHS, renderPipelockConfig, renderPipelockSecretsFile } from "./index.js";

/**
 * Keys pipelock's config schema defines, for the sections bottle renders: the `yaml:"…"` tags
 * of `Config`, `FetchProxy`, `Monitoring`, `ForwardProxy`, `TLSInterception`,
 * `RequestBodyScanning`, `ResponseScanning`, `DLP`, `SSRF`, `LoggingConfig` and `SentryConfig`
 * in internal/config/schema.go of github.com/luckyPipewrench/pipelock at commit
 * 408651293dfc175df407662de27216b5ea7cc66b (2026-04-28). pipelock decodes with
 * `KnownFields(true)` (internal/config/load.go), so any other key fails at startup.
 */
const SCHEMA: Record<string, readonly string[]> = {
  "": [
    "version", "mode", "enforce", "explain_blocks", "api_allowlist", "suppress", "fetch_proxy", "forward_proxy",
    "websocket_proxy", "dlp", "canary_tokens", "response_scanning", "mcp_input_scanning", "mcp_tool_scanning",
    "mcp_tool_policy", "git_protection", "logging", "session_profiling", "adaptive_enforcement",
    "mcp_session_binding", "request_body_scanning", "kill_switch", "sentry", "metrics_listen", "emit",
    "tool_chain_detection", "mcp_ws_listener", "tls_interception", "cross_request_detection", "reverse_proxy",
    "scan_api", "address_protection", "seed_phrase_detection", "rules", "file_sentry", "sandbox",
    "flight_recorder", "mcp_binary_integrity", "mcp_tool_provenance", "behavioral_baseline", "airlock",
    "browser_shield", "media_policy", "a2a_scanning", "taint", "mediation_envelope", "redaction", "agents",
    "default_agent_identity", "bind_default_agent_identity", "license_key", "license_file",
    "license_public_key", "internal", "trusted_domains", "ssrf",
  ],
  fetch_proxy: ["listen", "timeout_seconds", "max_response_mb", "user_agent", "monitoring"],
  "fetch_proxy.monitoring": [
    "max_url_length", "entropy_threshold", "subdomain_entropy_threshold", "max_requests_per_minute",
    "max_data_per_minute", "blocklist", "subdomain_entropy_exclusions",
  ],
  forward_proxy: ["enabled", "max_tunnel_seconds", "idle_timeout_seconds", "sni_verification", "redirect_websocket_hosts"],
  tls_interception: [
    "enabled", "ca_cert", "ca_key", "passthrough_domains", "cert_ttl", "cert_cache_size", "max_response_bytes",
  ],
  request_body_scanning: [
    "enabled", "action", "max_body_bytes", "scan_headers", "header_mode", "sensitive_headers", "ignore_headers",
  ],
  response_scanning: [
    "enabled", "action", "ask_timeout_seconds", "include_defaults", "patterns", "exempt_domains", "sse_streaming",
  ],
  dlp: ["scan_env", "secrets_file", "min_env_secret_length", "include_defaults", "patterns", "action"],
  ssrf: ["ip_allowlist"],
  logging: ["format", "output", "file", "include_allowed", "include_blocked"],
  sentry: ["enabled", "dsn", "environment", "sample_rate", "debug"],
};

/** Every mapping key path in `value`, checked against SCHEMA; returns the unknown ones. */
function unknownKeys(value: unknown, path = ""): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [];
  const allowed = SCHEMA[path];
  if (!allowed) return [`${path} (section not in the key list)`];
  return Object.entries(value).flatMap(([key, child]) => {
    const childPath = path ? `${path}.${key}` : key;
    return allowed.includes(key) ? unknownKeys(child, childPath) : [childPath];
  });
}

const route = (id: string, host: string, extra: Partial<EgressRoutePlan> = {}): EgressRoutePlan => ({
  id,
  host,
  ports: [443],
  methods: [],
  paths: [],
  inject: [],
  passthrough: false,
  scan: true,
  onFinding: "block",
  ...extra,
});

function planWith(pipelock: BottlePlan["pipelock"], routes: EgressRoutePlan[]): BottlePlan {
  return {
    planVersion: 1,
    bottle: "implementer",
    slug: "demo-implementer",
    backend: "docker",
    manifestPath: "/work/demo/bottle.json",
    labels: {},
    composeProject: "bottle-demo-implementer",
    networks: { internal: "bottle-demo-implementer-internal", egress: "bottle-demo-implementer-egress" },
    machines: { bundle: "bundle", agent: "agent" },
    bundle: {
      image: "bottle/sidecars:latest",
      hostnames: { egress: "egress", gitGate: "git-gate", supervise: "supervise", pipelock: "pipelock" },
      ports: { egress: 8080, gitGate: 9418, supervise: 9100, pipelock: 8888, health: 9000 },
      paths: { config: "/etc/bottle", secrets: "/run/bottle/secrets", state: "/var/lib/bottle", ca: "/etc/bottle/ca" },
      daemons: [],
      extraHosts: {},
    },
    proxyChain: [],
    ca: { agentTrusts: "bottle-ca", egressTrustsBottleCaUpstream: true },
    routes,
    secrets: [],
    git: { upstreams: [], extraHosts: {} },
    supervise: { enabled: true, url: "http://supervise:9100/mcp" },
    pipelock,
    agent: {
      image: "bottle/agent:latest",
      user: "node",
      home: "/home/node",
      workdir: "/workspace",
      command: ["claude"],
      env: {},
      caPath: "/usr/local/share/ca-certificates/bottle-ca.crt",
      skills: [],
    },
  };
}

const ROUTES = [
  route("anthropic", "api.anthropic.com", { inject: [{ header: "x-api-key", secret: "route.anthropic.x-api-key", prefix: "" }] }),
  route("npm", "registry.npmjs.org"),
  route("pinned", "pinned.example.com", { passthrough: true }),
  route("gh", "*.github.com", { methods: ["GET"] }),
];
const INPUTS = { internalCidr: "172.30.4.0/24", ...PIPELOCK_DEFAULT_PATHS };

describe("renderPipelockConfig", () => {
  const balanced = planWith({ enabled: true, mode: "balanced", blocklist: ["*.pastebin.com", "transfer.sh"] }, ROUTES);

  it("uses only keys pipelock's schema defines", () => {
    for (const mode of ["strict", "balanced", "audit"] as const) {
      const yaml = renderPipelockConfig({ ...balanced, pipelock: { ...balanced.pipelock, mode } }, INPUTS);
      expect(unknownKeys(parse(yaml))).toEqual([]);
    }
    // The check itself catches a stray key.
    expect(unknownKeys({ dlp: { secret_file: "x" }, sentry: { enabled: false } })).toEqual(["dlp.secret_file"]);
  });

  it("renders the forward proxy, DLP, TLS interception, blocklist and SSRF allowlist from the plan", () => {
    const config = parse(renderPipelockConfig(balanced, INPUTS));
    expect(config).toMatchObject({
      version: 1,
      mode: "balanced",
      enforce: true,
      explain_blocks: false,
      api_allowlist: ["*.github.com", "api.anthropic.com", "pinned.example.com", "registry.npmjs.org"],
      fetch_proxy: { listen: "127.0.0.1:8888", monitoring: { blocklist: ["*.pastebin.com", "transfer.sh"] } },
      forward_proxy: { enabled: true, sni_verification: true },
      tls_interception: {
        enabled: true,
        ca_cert: "/etc/bottle/ca/ca.crt",
        ca_key: "/etc/bottle/ca/ca.key",
        passthrough_domains: ["api.anthropic.com", "pinned.example.com"],
        cert_ttl: "24h",
      },
      request_body_scanning: { enabled: true, action: "block", scan_headers: true, header_mode: "sensitive" },
      response_scanning: { enabled: true, action: "warn" },
      dlp: {
        scan_env: false,
        secrets_file: "/run/bottle/secrets/pipelock-secrets.txt",
        min_env_secret_length: 8,
        include_defaults: true,
      },
      ssrf: { ip_allowlist: ["172.30.4.0/24"] },
      logging: { format: "json", output: "stdout" },
      sentry: { enabled: false },
    });
  });

  it("follows the plan's mode", () => {
    const strict = parse(renderPipelockConfig({ ...balanced, pipelock: { ...balanced.pipelock, mode: "strict" } }, INPUTS));
    expect(strict).toMatchObject({ mode: "strict", response_scanning: { action: "block" }, request_body_scanning: { action: "block" } });
    const audit = parse(renderPipelockConfig({ ...balanced, pipelock: { ...balanced.pipelock, mode: "audit" } }, INPUTS));
    expect(audit).toMatchObject({ mode: "audit", request_body_scanning: { action: "warn" }, response_scanning: { action: "warn" } });
  });

  it("lets routes approved later through strict mode, and refuses strict mode without routes", () => {
    const strictNoRoutes = planWith({ enabled: true, mode: "strict", blocklist: [] }, []);
    expect(() => renderPipelockConfig(strictNoRoutes, INPUTS)).toThrow(/strict mode lets only route hosts through/);
    const withApproved = parse(renderPipelockConfig(strictNoRoutes, { ...INPUTS, extraRoutes: [route("approved-req-1a2b3c4d", "docs.example.com")] }));
    expect(withApproved.api_allowlist).toEqual(["docs.example.com"]);
  });

  it("is deterministic and canonicalises the internal CIDR", () => {
    const shuffled = planWith(balanced.pipelock, [...ROUTES].reverse());
    expect(renderPipelockConfig(shuffled, INPUTS)).toBe(renderPipelockConfig(balanced, INPUTS));
    expect(parse(renderPipelockConfig(balanced, { ...INPUTS, internalCidr: "172.30.4.17/24" })).ssrf.ip_allowlist).toEqual(["172.30.4.0/24"]);
    expect(renderPipelockConfig(balanced, INPUTS).startsWith("# pipelock.yaml rendered by bottle")).toBe(true);
  });
});

describe("canonicalCidr", () => {
  it("clears host bits and refuses catch-alls and garbage", () => {
    expect(canonicalCidr("10.1.2.3/8")).toBe("10.0.0.0/8");
    expect(canonicalCidr("192.168.7.9/32")).toBe("192.168.7.9/32");
    expect(canonicalCidr("fd00:abcd::17/64")).toBe("fd00:abcd::/64");
    for (const bad of ["0.0.0.0/0", "::/0", "10.0.0.0", "10.0.0.0/33", "example/24", "10.0.0.0/8/1"]) {
      let error: unknown;
      try {
        canonicalCidr(bad);
      } catch (e) {
        error = e;
      }
      expect(BottleError.isInstance(error), bad).toBe(true);
      expect((error as BottleError).code).toBe("PIPELOCK_BAD_CIDR");
    }
  });
});

describe("renderPipelockSecretsFile", () => {
  it("writes one value per line, splitting PEM bodies and leaving out what pipelock cannot hold", () => {
    const pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oUMt\n-----END EC PRIVATE KEY-----\n";
    const text = renderPipelockSecretsFile(["sk-ant-test-0123456789", "short", "#not-a-comment-secret", pem, "sk-ant-test-0123456789"]);
    expect(text).toBe("MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oUMt\nsk-ant-test-0123456789\n");
    expect(renderPipelockSecretsFile([])).toBe("");
  });
});
