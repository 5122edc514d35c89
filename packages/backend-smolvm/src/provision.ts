import path from "node:path";
import type { BottlePlan } from "@bottle/plan";
import { BUNDLE_LOG_FILE, BUNDLE_PROVISIONED_MARKER, GUEST_STAGING_DIR, READY_MARKER } from "./pinned.js";
import { renderAgentGitconfig as renderGateGitconfig } from "@bottle/git-gate-render";

/** A file the bundle reads (routes.json, daemons.json, gate scripts, CA, secrets), at its guest path. */
export interface BundleFile {
  /** Absolute path inside the bundle, e.g. `/etc/bottle/routes.json`. */
  path: string;
  content: string | Uint8Array;
  mode: number;
}

/** Single-quote for `sh -c`. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_\-.,/:=@%+]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function shellJoin(argv: string[]): string {
  return argv.map(shellQuote).join(" ");
}

/** The readiness probe: succeeds only once the guest runs commands; stdout is compared to READY_MARKER exactly. */
export function readinessCommand(): string[] {
  return ["sh", "-c", `echo ${READY_MARKER}`];
}

/** Reads the guest's routing table, parsed by parseGuestAddress. */
export function addressCommand(): string[] {
  return ["cat", "/proc/net/fib_trie"];
}

/**
 * The bundle's long-lived workload: wait until the backend has copied the config in,
 * then run the supervisor (PID 1 of the bundle on docker) with its output in a log file.
 */
export function bundleWorkload(plan: BottlePlan): string[] {
  const config = `${plan.bundle.paths.config}/daemons.json`;
  const logDir = path.posix.dirname(BUNDLE_LOG_FILE);
  return [
    "sh",
    "-c",
    `mkdir -p ${logDir}; while [ ! -e ${BUNDLE_PROVISIONED_MARKER} ]; do sleep 0.2; done; ` +
      `exec bottle-supervisor run --config ${config} >>${BUNDLE_LOG_FILE} 2>&1`,
  ];
}

/** The agent's long-lived workload: nothing but staying up; the agent command is attached with exec. */
export function agentWorkload(): string[] {
  return ["sleep", "infinity"];
}

export function stagingPath(name: string): string {
  return `${GUEST_STAGING_DIR}/${name}`;
}

/** Unpacks an archive sent with `machine cp` at `/`, runs `then`, removes the archive. */
export function unpackScript(archive: string, then: string[] = []): string[] {
  const steps = [
    "set -e",
    `tar -xf ${shellQuote(archive)} -C / --no-overwrite-dir --no-same-owner`,
    `rm -f ${shellQuote(archive)}`,
    ...then,
  ];
  return ["sh", "-c", steps.join("\n")];
}

/** After the bundle files: fix ownership (root) and signal the workload to start. */
export function bundleUnpackScript(archive: string, files: BundleFile[]): string[] {
  const chmods = files.map((f) => `chmod ${f.mode.toString(8).padStart(4, "0")} ${shellQuote(f.path)}`);
  return unpackScript(archive, [...chmods, `touch ${BUNDLE_PROVISIONED_MARKER}`]);
}

/** update-ca-certificates picks the CA up from plan.agent.caPath; prints the bundle's line count for the log. */
export function caTrustCommand(plan: BottlePlan): string[] {
  return ["sh", "-c", `set -e\nchmod 0644 ${shellQuote(plan.agent.caPath)}\nupdate-ca-certificates`];
}

/**
 * The agent's git configuration: the same rendering as on docker (every URL form of an
 * upstream rewritten to the gate), with the IP-based gate address. Written to the system
 * gitconfig so every user gets it.
 */
export function renderAgentGitconfig(plan: BottlePlan): string {
  return renderGateGitconfig(plan.git.upstreams, `git://${plan.bundle.hostnames.gitGate}:${plan.bundle.ports.gitGate}`);
}

export const AGENT_GITCONFIG_PATH = "/etc/gitconfig";

/** Runs a command as the agent's user with its HOME (exec runs as the image's user, root here). */
export function asAgentUser(agent: { user: string; home: string }, command: string[]): string[] {
  return ["runuser", "-u", agent.user, "--", "env", `HOME=${agent.home}`, ...command];
}

/** Claude Code's state file, seeded at provisioning (see renderClaudeCodeState). */
export function claudeStatePath(plan: BottlePlan): string {
  return `${plan.agent.home}/.claude.json`;
}

export function mcpAddCommand(plan: BottlePlan): string[] {
  return asAgentUser(plan.agent, ["claude", "mcp", "add", "--transport", "http", "supervise", plan.supervise.url]);
}

/** Ownership and modes of what was copied for the agent user (prompt, skills, workspace). */
export function agentFilesScript(plan: BottlePlan, archive: string): string[] {
  const user = plan.agent.user;
  const home = plan.agent.home;
  const then: string[] = [];
  const owned: string[] = [];
  if (plan.agent.prompt) {
    const dir = path.posix.dirname(plan.agent.prompt.guestPath);
    owned.push(dir);
    then.push(`chmod 0700 ${shellQuote(dir)}`, `chmod 0600 ${shellQuote(plan.agent.prompt.guestPath)}`);
  }
  if (plan.agent.skills.length > 0) {
    for (const dir of [`${home}/.claude`, `${home}/.claude/skills`]) owned.push(dir);
    for (const skill of plan.agent.skills) {
      then.push(`chmod -R u+rwX,go+rX,go-w ${shellQuote(skill.guestPath)}`);
      owned.push(skill.guestPath);
    }
  }
  if (plan.agent.workspace && plan.agent.workspace.mode === "copy") owned.push(plan.agent.workspace.guestPath);
  owned.push(claudeStatePath(plan));
  const chowns = owned.map((dir) => `chown -R ${user}:${user} ${shellQuote(dir)}`);
  return unpackScript(archive, [...chowns, ...then]);
}
