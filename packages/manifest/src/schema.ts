import { z } from "zod";
import { HOST_PATTERN_DESCRIPTION, isExtraHostName, isHostPattern } from "./hosts.js";

/** A host secret reference: the name of an env var or a file path on the host. Never a value. */
export const SecretRefSchema = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name") }).describe("Read the secret from this host environment variable at launch."),
  z.strictObject({ file: z.string().min(1) }).describe("Read the secret from this host file at launch (trailing newline trimmed)."),
]);

export const HeaderInjectionSchema = z.strictObject({
  env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional().describe("Host environment variable holding the value."),
  file: z.string().min(1).optional().describe("Host file holding the value."),
  prefix: z.string().default("").describe("Text put before the value, e.g. \"Bearer \"."),
});

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"] as const;

export const RouteSchema = z.strictObject({
  host: z.string().toLowerCase().refine(isHostPattern, HOST_PATTERN_DESCRIPTION).describe("Exact host or `*.` wildcard (matches one or more labels)."),
  ports: z.array(z.number().int().min(1).max(65535)).default([443]).describe("Allowed destination ports."),
  methods: z.array(z.enum(METHODS)).default([]).describe("Allowed methods; empty means any."),
  paths: z.array(z.string().startsWith("/")).default([]).describe("Allowed path prefixes; empty means any."),
  inject: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, "a header name"), HeaderInjectionSchema).default({}).describe("Headers egress sets from host secrets; the agent never sees the values."),
  passthrough: z.boolean().default(false).describe("Tunnel without TLS interception (no injection, no body checks)."),
  scan: z.boolean().default(true).describe("Check outbound bodies and URLs for secrets detected by secretlint rules."),
  scheme: z.enum(["https", "http"]).default("https").describe("`https` (default): the route matches TLS connections only, so injected credentials never travel in cleartext. `http`: plain HTTP is allowed too and gets the injected headers (never on port 443)."),
  onFinding: z.enum(["block", "redact"]).default("block").describe("What a scan finding does: `block` answers 403; `redact` replaces the finding in place with a typed marker and forwards (for routes that carry the agent's own conversation)."),
});

export const GitUpstreamSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "lower-case letters, digits, . _ -").describe("Repository name inside the gate."),
  url: z.string().min(1).describe("Upstream URL: ssh://, git@host:path, https:// or git://."),
  credential: SecretRefSchema.optional().describe("SSH private key file, or HTTPS token (env or file)."),
  username: z.string().default("x-access-token").describe("User name sent with an HTTPS token."),
  knownHostKey: z.string().optional().describe("Pinned known_hosts line(s) for SSH upstreams; required for ssh."),
  extraHosts: z.record(z.string().refine(isExtraHostName, "a host name (no wildcard, no address)"), z.ipv4().or(z.ipv6())).default({}).describe("host → IP entries for the gate's /etc/hosts."),
  protectedBranches: z.array(z.string()).default(["main", "master"]).describe("Branches that may not be deleted or force-pushed."),
  allowedRefs: z.array(z.string()).default([]).describe("Ref patterns a push may update (e.g. refs/heads/agent/*); empty means all."),
});

export const AgentSchema = z.strictObject({
  image: z.string().min(1).optional().describe("Agent image; default: the agent image the CLI builds (`bottle build`), tagged with its version."),
  command: z.array(z.string()).min(1).default(["claude"]).describe("Command attached after provisioning."),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}).describe("Plain (non-secret) environment for the agent."),
  cpus: z.number().positive().optional(),
  memory: z.string().regex(/^\d+(\.\d+)?[kmgKMG]?$/, "a size like 4g or 512m").optional(),
  runtime: z
    .enum(["runc", "runsc"])
    .optional()
    .describe("OCI runtime of the agent container (docker backend): `runc` (default) or `runsc` (gVisor, a user-space kernel; the engine must list it under `runtimes` in daemon.json)."),
  prompt: z.string().optional().describe("Host file with the agent's system prompt."),
  skills: z.array(z.string()).default([]).describe("Host folders copied into ~/.claude/skills."),
});

export const ModelSchema = z
  .strictObject({
    auth: z.enum(["api-key", "oauth-token"]).describe("`api-key`: an Anthropic API key (egress sets `x-api-key`). `oauth-token`: a Claude subscription token from `claude setup-token` (egress sets `authorization: Bearer`)."),
    credential: SecretRefSchema.describe("Where the real key or token lives on the host. The agent only gets a placeholder."),
    baseUrl: z
      .url({ protocol: /^https$/, error: "an https:// URL like https://llm-gateway.example.com" })
      .optional()
      .describe("A company LLM gateway that speaks the Anthropic API, instead of https://api.anthropic.com (sets ANTHROPIC_BASE_URL in the agent)."),
  })
  .describe("The credential Claude Code uses for the model. bottle adds the route, injects the credential at egress and gives the agent a placeholder.");

export const WorkspaceSchema = z.strictObject({
  path: z.string().default(".").describe("Host folder for the agent's workspace (relative to the manifest)."),
  mode: z.enum(["mount", "copy"]).default("copy"),
  copyGit: z.boolean().default(false).describe("Copy the host repository's .git into the workspace."),
});

export const PipelockSchema = z.strictObject({
  enabled: z.boolean().default(false),
  mode: z.enum(["strict", "balanced", "audit"]).default("balanced"),
  blocklist: z.array(z.string()).default([]).describe("Domains pipelock always blocks."),
});

export const BottleSchema = z.strictObject({
  description: z.string().optional(),
  backend: z.enum(["docker", "smolvm"]).default("docker"),
  agent: AgentSchema.prefault({}),
  model: ModelSchema.optional(),
  workspace: WorkspaceSchema.optional(),
  egress: z.strictObject({ routes: z.array(RouteSchema).default([]) }).prefault({}).describe("Default deny: only these routes leave."),
  pipelock: PipelockSchema.prefault({}),
  git: z.strictObject({ upstreams: z.array(GitUpstreamSchema).default([]) }).prefault({}),
  supervise: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
});

export const ManifestSchema = z.strictObject({
  $schema: z.string().optional(),
  extraCaBundle: z.string().optional().describe("Host CA bundle trusted for image builds and upstream TLS (corporate proxies)."),
  bottles: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and -"), BottleSchema).describe("Named bottles."),
});

export type Manifest = z.output<typeof ManifestSchema>;
export type ManifestInput = z.input<typeof ManifestSchema>;
export type BottleSpec = z.output<typeof BottleSchema>;
export type RouteSpec = z.output<typeof RouteSchema>;
export type ModelSpec = z.output<typeof ModelSchema>;
export type GitUpstreamSpec = z.output<typeof GitUpstreamSchema>;
export type SecretRef = z.output<typeof SecretRefSchema>;
export type HeaderInjectionSpec = z.output<typeof HeaderInjectionSchema>;
