/**
 * BottlePlan: everything a backend and the renderers need to run one bottle, as plain
 * data. Deterministic (same manifest + options → byte-identical JSON) and free of secret
 * values: secrets appear only as references (`SecretRef`) under stable ids.
 */

/** Where a secret value lives on the host. Values are read at launch, never planned. */
export type SecretSource = { env: string } | { file: string };

export interface PlannedSecret {
  /** Stable id, e.g. `route.api-anthropic-com.x-api-key` or `git.app.credential`. */
  id: string;
  source: SecretSource;
  /** What uses it: `egress` (header injection) or `git-gate` (upstream credential). */
  usedBy: "egress" | "git-gate";
}

export interface HeaderInjection {
  /** Header name, lower-case. */
  header: string;
  /** Id of a PlannedSecret. */
  secret: string;
  /** Text put before the value, e.g. `Bearer `. */
  prefix: string;
}

export interface EgressRoutePlan {
  /** Stable route id (used in the audit trail and in leak-blocking decisions). */
  id: string;
  /** Exact host (`api.anthropic.com`) or wildcard (`*.github.com`, one or more labels). */
  host: string;
  ports: number[];
  /** Upper-case methods; empty = any method. */
  methods: string[];
  /** Path prefixes; empty = any path. */
  paths: string[];
  inject: HeaderInjection[];
  /**
   * Lower-case headers dropped from the agent's request before injection (the model route
   * drops every credential header the agent sends, placeholder or not). Optional in routes
   * files; absent means none.
   */
  stripHeaders?: string[];
  /** Tunnel without interception (for clients that pin certificates): no injection, no body checks. */
  passthrough: boolean;
  /** Pattern-based secret detection (secretlint) on outbound URL and body. */
  scan: boolean;
  /** What a finding does: `block` (403) or `redact` (replace in place with a typed marker, forward). */
  onFinding: "block" | "redact";
  /**
   * `http`: the route also serves plain HTTP, and injects its credentials into it. Absent
   * (= `https`): only TLS connections match, so credentials never travel in cleartext.
   */
  scheme?: "http";
}

/** What the agent uses for the model (from the bottle's `model` section). */
export interface ModelPlan {
  auth: "api-key" | "oauth-token";
  /** Id of the egress route that reaches the model API. */
  route: string;
  /** The variable Claude Code reads (`ANTHROPIC_API_KEY` or `CLAUDE_CODE_OAUTH_TOKEN`). */
  envVar: string;
  /** Its value in the agent: a placeholder, never the credential. */
  placeholder: string;
  /** Agent env the model needs (placeholder, ANTHROPIC_BASE_URL for a gateway). */
  env: Record<string, string>;
  baseUrl?: string;
}

export interface GitUpstreamPlan {
  name: string;
  url: string;
  transport: "ssh" | "https" | "http" | "git";
  /** Secret id of the credential (ssh private key file or https token); absent = anonymous. */
  credential?: string;
  /** For https: user name sent with the token. */
  username: string;
  /** Pinned `known_hosts` line(s) for ssh upstreams. */
  knownHostKey?: string;
  protectedBranches: string[];
  /** Ref patterns a push may update (git glob, e.g. `refs/heads/agent/*`); empty = all. */
  allowedRefs: string[];
  extraHosts: Record<string, string>;
  /** URL the agent uses to reach this upstream through the gate. */
  gateUrl: string;
  /** URL forms the agent's gitconfig rewrites to `gateUrl` (insteadOf). */
  insteadOf: string[];
}

export interface DaemonSpec {
  name: "egress" | "git-gate" | "supervise" | "pipelock";
  command: string[];
  env: Record<string, string>;
  cwd: string;
  /** Receives SIGHUP forwarded by the supervisor when config changes. */
  reloadable: boolean;
}

export interface ProxyHop {
  name: "agent" | "egress" | "pipelock" | "internet";
  /** URL a previous hop uses to reach this one (absent for agent/internet). */
  url?: string;
}

export interface MountPlan {
  hostPath: string;
  guestPath: string;
}

export interface BottlePlan {
  planVersion: 1;
  bottle: string;
  slug: string;
  backend: "docker" | "smolvm";
  /** Absolute path of the manifest this plan came from. */
  manifestPath: string;
  labels: Record<string, string>;
  /** docker: compose project and networks. smolvm: machine names. */
  composeProject: string;
  networks: { internal: string; egress: string };
  machines: { bundle: string; agent: string };
  bundle: {
    image: string;
    /** Names the agent uses for the bundle: docker aliases, or the bundle IP on smolvm. */
    hostnames: { egress: string; gitGate: string; supervise: string; pipelock: string };
    ports: { egress: number; gitGate: number; supervise: number; pipelock: number; health: number };
    /** Paths inside the bundle. */
    paths: BundlePaths;
    daemons: DaemonSpec[];
    extraHosts: Record<string, string>;
  };
  proxyChain: ProxyHop[];
  ca: {
    /** The agent trusts the bottle CA (egress intercepts its TLS). */
    agentTrusts: "bottle-ca";
    /** egress trusts the bottle CA upstream only when pipelock intercepts after it. */
    egressTrustsBottleCaUpstream: boolean;
    /** Extra CA bundle (host path) for upstream TLS and image builds, e.g. a corporate proxy. */
    extraCaBundle?: string;
  };
  routes: EgressRoutePlan[];
  secrets: PlannedSecret[];
  git: { upstreams: GitUpstreamPlan[]; extraHosts: Record<string, string> };
  supervise: { enabled: boolean; url: string };
  pipelock: { enabled: boolean; mode: "strict" | "balanced" | "audit"; blocklist: string[] };
  agent: {
    image: string;
    user: string;
    home: string;
    command: string[];
    env: Record<string, string>;
    cpus?: number;
    memory?: string;
    /** OCI runtime of the agent container when the manifest names one ("runsc": gVisor). */
    runtime?: "runc" | "runsc";
    caPath: string;
    prompt?: MountPlan;
    skills: MountPlan[];
    workspace?: {
      hostPath: string;
      guestPath: string;
      mode: "mount" | "copy";
      copyGit: boolean;
      /** Paths (relative, `/`-separated) left out of the copy: secret files the manifest names. */
      exclude?: string[];
    };
    /** Where the agent command starts (the workspace, with or without a workspace section). */
    workdir: string;
    /** Present when the bottle has a `model` section. */
    model?: ModelPlan;
  };
}

export interface BundlePaths {
  /** Read-only rendered config: routes.json, pipelock.yaml, gate scripts, daemons.json. */
  config: string;
  /** Read-only secret files (0600), never mounted into the agent. */
  secrets: string;
  /** Writable state: supervise requests, audit log, git mirrors. */
  state: string;
  /** Bottle CA certificate and key. */
  ca: string;
}
