import type { ManifestInput } from "@bottle/manifest";

/** How Claude Code in the bottle authenticates; the credential itself stays on the host. */
export type InitAuth = "api-key" | "subscription";

export interface InitTemplate {
  manifest: ManifestInput;
  /** Host variable egress reads the credential from at `bottle start`. */
  secretEnv: string;
  /** How to obtain the credential. */
  obtain: string;
}

/**
 * A starter manifest for Claude Code: one bottle, the current folder copied in, and the
 * `model` section, from which the plan adds the Anthropic API route, egress injects the
 * credential read from the host, and the agent gets only a placeholder.
 */
export function initTemplate(options: { name: string; auth: InitAuth; schema: string }): InitTemplate {
  const apiKey = options.auth === "api-key";
  const secretEnv = apiKey ? "ANTHROPIC_API_KEY" : "CLAUDE_CODE_OAUTH_TOKEN";
  const manifest: ManifestInput = {
    $schema: options.schema,
    bottles: {
      [options.name]: {
        description: `Claude Code on this folder (${apiKey ? "API key" : "subscription token"} injected by egress; the agent never holds it).`,
        agent: { command: ["claude"] },
        model: { auth: apiKey ? "api-key" : "oauth-token", credential: { env: secretEnv } },
        workspace: { path: ".", mode: "copy" },
        supervise: { enabled: true },
      },
    },
  };
  return {
    manifest,
    secretEnv,
    obtain: apiKey ? "an API key from console.anthropic.com" : "a long-lived token from `claude setup-token` (Claude Pro/Max)",
  };
}
