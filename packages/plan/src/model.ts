import type { ModelSpec } from "@bottle/manifest";
import type { EgressRoutePlan, ModelPlan, PlannedSecret, SecretSource } from "./types.js";

export const ANTHROPIC_API_ORIGIN = "https://api.anthropic.com";

/**
 * Paths Claude Code calls on its API host, checked against the installed Claude Code
 * (2.1.x, with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1): the Messages API (with
 * `?beta=true` and `/count_tokens`), the remote managed settings and policy limits it
 * fetches at every start (a 403 there shows a warning), and the connectivity check
 * `claude doctor` and the first-run screens make.
 */
export const MODEL_API_PATHS = ["/v1/messages", "/api/claude_code/settings", "/api/claude_code/policy_limits", "/api/hello"] as const;

/** Headers that carry a model credential: whatever the agent puts there is dropped on the model route. */
export const MODEL_CREDENTIAL_HEADERS = ["x-api-key", "authorization"] as const;

/**
 * Values the agent sees instead of the real credential. Deliberately not shaped like a
 * key (no `sk-` prefix), so scanners and humans never mistake them for one.
 */
export const MODEL_PLACEHOLDERS = {
  "api-key": "bottle-placeholder-api-key-egress-injects-the-real-one",
  "oauth-token": "bottle-placeholder-oauth-token-egress-injects-the-real-one",
} as const;

/** The variable Claude Code reads for each kind of credential. */
export const MODEL_ENV_VAR = { "api-key": "ANTHROPIC_API_KEY", "oauth-token": "CLAUDE_CODE_OAUTH_TOKEN" } as const;

export const MODEL_ROUTE_ID = "model";
export const MODEL_SECRET_ID = "model.credential";

/** The model's route, secret and agent-side settings, from a bottle's `model` section. */
export function planModel(model: ModelSpec, secretSource: SecretSource): { route: EgressRoutePlan; secret: PlannedSecret; plan: ModelPlan } {
  const url = new URL(model.baseUrl ?? ANTHROPIC_API_ORIGIN);
  const prefix = url.pathname.replace(/\/+$/, "");
  const header = model.auth === "api-key" ? "x-api-key" : "authorization";
  const route: EgressRoutePlan = {
    id: MODEL_ROUTE_ID,
    host: url.hostname.toLowerCase(),
    ports: [url.port ? Number(url.port) : 443],
    methods: ["GET", "HEAD", "POST"],
    paths: MODEL_API_PATHS.map((p) => `${prefix}${p}`),
    inject: [{ header, secret: MODEL_SECRET_ID, prefix: model.auth === "api-key" ? "" : "Bearer " }],
    stripHeaders: [...MODEL_CREDENTIAL_HEADERS],
    passthrough: false,
    scan: true,
    // The route carries the agent's own conversation: a finding is redacted, not fatal.
    onFinding: "redact",
  };
  const env: Record<string, string> = { [MODEL_ENV_VAR[model.auth]]: MODEL_PLACEHOLDERS[model.auth] };
  if (model.baseUrl) env.ANTHROPIC_BASE_URL = model.baseUrl.replace(/\/+$/, "");
  return {
    route,
    secret: { id: MODEL_SECRET_ID, source: secretSource, usedBy: "egress" },
    plan: { auth: model.auth, route: MODEL_ROUTE_ID, envVar: MODEL_ENV_VAR[model.auth], placeholder: MODEL_PLACEHOLDERS[model.auth], env, ...(model.baseUrl ? { baseUrl: env.ANTHROPIC_BASE_URL! } : {}) },
  };
}

/**
 * Claude Code's own switches for a sandbox: no auto-update, telemetry, error reports or
 * other non-essential traffic (hosts the bottle does not route anyway; each would be a
 * denied request and some a warning), and no automatic install of the official plugin
 * marketplace (downloads.claude.ai). The first two are in Claude Code's env-vars reference;
 * the third is the switch Claude Code's own managed hosts set.
 */
export const CLAUDE_CODE_SANDBOX_ENV: Readonly<Record<string, string>> = {
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  DISABLE_AUTOUPDATER: "1",
  // The official plugin marketplace is fetched at an interactive start otherwise.
  CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL: "1",
};
