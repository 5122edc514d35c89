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

// Claude Code will not start without a credential in its environment. The agent gets a
// placeholder; egress overwrites the header with the real value on the way out, so the
// agent never holds it.
const PLACEHOLDER = "injected-by-bottle-egress";

/**
 * A starter manifest for Claude Code: one bottle, the current folder copied in, the
 * Anthropic API as the only way out with the credential injected by egress.
 */
export function initTemplate(options: { name: string; auth: InitAuth; schema: string }): InitTemplate {
  const apiKey = options.auth === "api-key";
  const secretEnv = apiKey ? "ANTHROPIC_API_KEY" : "CLAUDE_CODE_OAUTH_TOKEN";
  const header = apiKey ? "x-api-key" : "authorization";
  const manifest: ManifestInput = {
    $schema: options.schema,
    bottles: {
      [options.name]: {
        description: `Claude Code on this folder (${apiKey ? "API key" : "subscription token"} injected by egress; the agent never holds it).`,
        agent: {
          command: ["claude"],
          env: { [secretEnv]: PLACEHOLDER, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
        },
        workspace: { path: ".", mode: "copy" },
        egress: {
          routes: [
            {
              host: "api.anthropic.com",
              methods: ["POST", "GET"],
              paths: ["/v1/"],
              inject: { [header]: { env: secretEnv, ...(apiKey ? {} : { prefix: "Bearer " }) } },
              // the agent's own conversation carries what it read; redact findings rather than fail the session
              onFinding: "redact",
            },
          ],
        },
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
