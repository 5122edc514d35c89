import type { BundlePaths } from "./types.js";

export const BUNDLE_PORTS = { egress: 8080, gitGate: 9418, supervise: 9100, pipelock: 8888, health: 9000 } as const;

export const BUNDLE_HOSTNAMES = { egress: "egress", gitGate: "git-gate", supervise: "supervise", pipelock: "pipelock" } as const;

export const BUNDLE_PATHS: BundlePaths = {
  config: "/etc/bottle",
  secrets: "/run/bottle/secrets",
  state: "/var/lib/bottle",
  ca: "/etc/bottle/ca",
};

export const DEFAULT_IMAGES = { agent: "bottle/agent:latest", sidecars: "bottle/sidecars:latest", base: "bottle/base:bookworm" } as const;

export const AGENT_USER = { name: "node", home: "/home/node" } as const;

/** Where the bottle CA lands in the agent; update-ca-certificates picks it up from here. */
export const AGENT_CA_PATH = "/usr/local/share/ca-certificates/bottle-ca.crt";
export const AGENT_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
export const AGENT_WORKSPACE = "/workspace";

/** Label keys every backend puts on what it creates, so cleanup finds them without guessing names. */
export const LABELS = { managed: "dev.bottle.managed", slug: "dev.bottle.slug", bottle: "dev.bottle.name" } as const;

/** Proxy variables the plan owns; the manifest's agent.env may not set them. */
export const PROXY_ENV_KEYS = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"] as const;
