import os from "node:os";
import path from "node:path";
import type { BottlePlan } from "@bottle/plan";
import { expandHome, stateLayout } from "@bottle/state";
import { stringify } from "yaml";

/** Extra label on every container we create: which part of the bottle it is. */
export const ROLE_LABEL = "dev.bottle.role";
/** Extra label on everything we create: the host state dir holding metadata.json (cleanup reads it). */
export const STATE_DIR_LABEL = "dev.bottle.state-dir";

/** Compose service names (stable: listBottles, logs and exec look them up by label). */
export const SERVICES = { bundle: "bundle", agent: "agent" } as const;

/** Keys of the two networks inside the compose file (their real names come from the plan). */
const NET = { internal: "internal", egress: "egress" } as const;

/**
 * Capabilities the bundle keeps after `cap_drop: [ALL]` (it runs as root, PID 1 = supervisor).
 * Checked with the real sidecars image against a state dir owned by a non-root host user:
 * egress, supervise, SIGHUP reload and git-gate (mirror, fetch, scanned push) need only
 * - DAC_OVERRIDE: read the 0600 secrets and write the 0700 state dir, both owned by the
 *   host user, not by root-in-the-container;
 * - CHOWN: at stop, hand what the bundle wrote under /var/lib/bottle back to the host user.
 * Daemons all run as root, so no SETUID/SETGID/KILL; ports are above 1024.
 */
export const BUNDLE_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE"] as const;

/**
 * Capabilities the agent keeps after `cap_drop: [ALL]`. Only provisioning (`docker exec -u 0`)
 * uses it, to hand /workspace to the agent user; the agent's own processes run as `node`
 * with `no-new-privileges`, so they can never hold it.
 */
export const AGENT_CAPABILITIES = ["CHOWN"] as const;

export interface RenderComposeOptions {
  /** The bottle's state dir on the host (`<state>` in docs/bundle-contract.md). Absolute. */
  stateDir: string;
  /** Expands `~/` in host paths of the plan. Default: os.homedir(). */
  homeDir?: string;
  /** Bundle healthcheck timing; defaults suit a cold start on a small machine. */
  health?: { interval?: string; timeout?: string; retries?: number; startPeriod?: string };
}

/** Agent memory limit when the manifest sets none (`agent.memory`). */
export const DEFAULT_AGENT_MEMORY = "8g";
/** Most processes/threads the agent container may hold. */
export const DEFAULT_AGENT_PIDS = 4096;

/**
 * Pure: plan → compose file text (YAML). The file format is `version: "2.4"`, which both
 * docker-compose v1 (1.29) and the `docker compose` v2 plugin accept. Networks are created
 * by the backend beforehand (their subnet feeds pipelock.yaml), so they are external here.
 */
export function renderCompose(plan: BottlePlan, options: RenderComposeOptions): string {
  // YAML 1.1 quoting: docker-compose v1 (PyYAML) would read a bare `no`, `on` or `yes` as a boolean.
  return stringify(composeDocument(plan, options), { version: "1.1", lineWidth: 0 });
}

/** The compose document as data (what renderCompose serialises). */
export function composeDocument(plan: BottlePlan, options: RenderComposeOptions): Record<string, unknown> {
  if (!path.isAbsolute(options.stateDir)) throw new Error(`stateDir must be absolute, got "${options.stateDir}"`);
  const state = stateLayout(options.stateDir);
  const home = options.homeDir ?? os.homedir();
  const paths = plan.bundle.paths;
  const health = options.health ?? {};
  const aliases = [...new Set([plan.bundle.hostnames.egress, plan.bundle.hostnames.gitGate, plan.bundle.hostnames.supervise, plan.bundle.hostnames.pipelock])];

  const bundle: Record<string, unknown> = {
    image: plan.bundle.image,
    container_name: plan.machines.bundle,
    hostname: "bundle",
    labels: { ...plan.labels, [ROLE_LABEL]: SERVICES.bundle, [STATE_DIR_LABEL]: options.stateDir },
    user: "0:0",
    read_only: true,
    tmpfs: ["/tmp", "/root"],
    cap_drop: ["ALL"],
    cap_add: [...BUNDLE_CAPABILITIES],
    security_opt: ["no-new-privileges:true"],
    volumes: [
      `${state.config}:${paths.config}:ro`,
      `${state.secrets}:${paths.secrets}:ro`,
      `${state.bundle}:${paths.state}:rw`,
    ],
    networks: {
      [NET.internal]: { aliases },
      [NET.egress]: {},
    },
    healthcheck: {
      test: ["CMD", "bottle-supervisor", "health", "--port", String(plan.bundle.ports.health)],
      interval: health.interval ?? "2s",
      timeout: health.timeout ?? "5s",
      retries: health.retries ?? 5,
      start_period: health.startPeriod ?? "60s",
    },
    stop_grace_period: "10s",
    restart: "no",
  };
  const extraHosts = Object.entries(plan.bundle.extraHosts).sort(([a], [b]) => byCodePoint(a, b));
  if (extraHosts.length) bundle.extra_hosts = extraHosts.map(([host, ip]) => `${host}:${ip}`);

  const agentEnv = Object.fromEntries(Object.entries(plan.agent.env).sort(([a], [b]) => byCodePoint(a, b)));
  const workspace = plan.agent.workspace;
  const agent: Record<string, unknown> = {
    image: plan.agent.image,
    container_name: plan.machines.agent,
    hostname: plan.bottle,
    labels: { ...plan.labels, [ROLE_LABEL]: SERVICES.agent, [STATE_DIR_LABEL]: options.stateDir },
    user: plan.agent.user,
    working_dir: plan.agent.workdir,
    command: ["sleep", "infinity"],
    init: true,
    environment: { HOME: plan.agent.home, ...agentEnv },
    // Writable root: provisioning runs update-ca-certificates (rewrites /etc/ssl/certs) and
    // `docker cp` refuses read-only roots; the agent's toolchains write under $HOME. The
    // container is removed at stop and has no volumes, so nothing it writes outlives it.
    read_only: false,
    tmpfs: ["/tmp:exec,mode=1777"],
    cap_drop: ["ALL"],
    cap_add: [...AGENT_CAPABILITIES],
    security_opt: ["no-new-privileges:true"],
    // Names resolve through docker's embedded DNS (the bundle's aliases). Engines that
    // forward other lookups from internal networks would forward them to this resolver,
    // which does not exist, so DNS cannot carry data out.
    dns: ["127.0.0.1"],
    // A failed lookup of an outside name then takes a second, not docker's ~20 s.
    dns_opt: ["timeout:1", "attempts:1"],
    networks: { [NET.internal]: {} },
    depends_on: { [SERVICES.bundle]: { condition: "service_healthy" } },
    stop_grace_period: "5s",
    restart: "no",
  };
  if (plan.agent.cpus !== undefined) agent.cpus = plan.agent.cpus;
  // Limits even when the manifest sets none: a fork bomb or a runaway build in the agent
  // must not take the host (or the bundle next to it) down.
  agent.mem_limit = plan.agent.memory ?? DEFAULT_AGENT_MEMORY;
  agent.pids_limit = DEFAULT_AGENT_PIDS;
  // gVisor: the engine must list the runtime (daemon.json `runtimes`; see the README)
  if (plan.agent.runtime !== undefined && plan.agent.runtime !== "runc") agent.runtime = plan.agent.runtime;
  if (workspace?.mode === "mount") agent.volumes = [`${expandHome(workspace.hostPath, home)}:${workspace.guestPath}:rw`];

  return {
    version: "2.4",
    services: { [SERVICES.bundle]: bundle, [SERVICES.agent]: agent },
    networks: {
      [NET.internal]: { external: true, name: plan.networks.internal },
      [NET.egress]: { external: true, name: plan.networks.egress },
    },
  };
}

/** Locale-independent order, so the file is byte-identical on every machine. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
