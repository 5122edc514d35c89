/**
 * The one smolvm release this backend is written and tested against. Every flag and
 * error string used here was read from this tag's source (src/cli/machine.rs,
 * src/cli/vm_common.rs, src/data/errors.rs); see the package README.
 */
export const PINNED_SMOLVM = {
  version: "1.9.3",
  tag: "v1.9.3",
  commit: "21b51875ceca61ac5f6718a60c4334235a7b2e29",
  repository: "https://github.com/smol-machines/smolvm",
} as const;

/** Label keys this backend adds next to plan.labels. */
export const SMOLVM_LABELS = { role: "dev.bottle.role" } as const;

/** Where archives sent with `machine cp` wait inside a guest (not a tmpfs in the container). */
export const GUEST_STAGING_DIR = "/var/tmp/bottle-stage";

/** Written by the backend after the bundle's files are in place; the bundle workload waits for it. */
export const BUNDLE_PROVISIONED_MARKER = "/etc/bottle/.provisioned";

/** Where the bundle workload sends the supervisor's output (smolvm has no `logs` command). */
export const BUNDLE_LOG_FILE = "/var/log/bottle/supervisor.log";

/**
 * DNS upstream handed to the agent's gateway. smolvm's virtio-net gateway forwards guest
 * DNS regardless of the egress allow-list; pointing it at TEST-NET-1 (RFC 5737, never
 * routed) makes every query go nowhere, so the agent has no DNS to the outside.
 */
export const AGENT_DNS_SINK = "192.0.2.1";

/** Printed by the readiness probe; compared exactly. */
export const READY_MARKER = "bottle-machine-ready";
