import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { BottleError } from "@bottle/errors";
import { CLAUDE_STATE_MERGE_SCRIPT, renderClaudeCodeState, tarExcludes, type BottlePlan } from "@bottle/plan";
import { execa } from "execa";
import { expandHome, stateLayout } from "@bottle/state";
import type { DockerCli } from "./engine.js";
import { tail } from "./exec.js";
import { renderAgentGitconfigFile, type AgentGitIdentity } from "./gitconfig.js";
import type { ProgressListener } from "./progress.js";

export interface ProvisionOptions {
  stateDir: string;
  /** Agent container name or id. Default: plan.machines.agent. */
  container?: string;
  /** PEM of the bottle CA. Default: `<state>/config/ca/ca.crt`. */
  caCertPem?: string;
  identity?: AgentGitIdentity;
  homeDir?: string;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
  /**
   * The network fence being applied concurrently (see fenceAgentNetwork). Provisioning
   * waits for it and fails if it fails, so it never returns before the fence is in place.
   */
  fence?: Promise<unknown>;
}

export interface ProvisionReport {
  steps: string[];
  warnings: string[];
}

/**
 * Prepares a running agent container: trusts the bottle CA, rewrites git URLs to the gate,
 * registers the supervise MCP server, installs prompt and skills, copies the workspace.
 * Root-owned paths are written as root; everything under $HOME and /workspace is written
 * as the agent user, so it owns its files without any chown.
 */
export async function provisionAgent(cli: DockerCli, plan: BottlePlan, options: ProvisionOptions): Promise<ProvisionReport> {
  const container = options.container ?? plan.machines.agent;
  const user = plan.agent.user;
  const home = plan.agent.home;
  const homeDir = options.homeDir;
  const report: ProvisionReport = { steps: [], warnings: [] };
  const progress = (message: string) => {
    report.steps.push(message);
    options.onProgress?.({ step: "provision", message });
  };
  const warn = (message: string) => {
    report.warnings.push(message);
    options.onProgress?.({ step: "provision", message, level: "warn" });
  };
  const exec = (u: string, script: string, args: string[], input?: string | Buffer) =>
    execScript(cli, container, { user: u, script, args, ...(input !== undefined ? { input } : {}), ...(options.signal ? { signal: options.signal } : {}) });

  // Independent steps run concurrently (each `docker exec` is an engine round trip, and
  // Debian's update-ca-certificates alone takes ~1.5 s); see CA_INSTALL_SCRIPT.
  // 1. The bottle CA into the trust store (egress intercepts the agent's TLS).
  const trustCa = async () => {
    const caPem = options.caCertPem ?? (await readHostFile(path.join(stateLayout(options.stateDir).config, "ca", "ca.crt"), "the bottle CA certificate"));
    await exec("0", CA_INSTALL_SCRIPT, [plan.agent.caPath], caPem);
    progress(`trusted the bottle CA (${plan.agent.caPath})`);
  };

  // 2. git: every upstream URL form is rewritten to the gate.
  const gitconfig = async () => {
    await writeAs(exec, user, `${home}/.gitconfig`, renderAgentGitconfigFile(plan, options.identity));
    progress(`wrote ${home}/.gitconfig (${plan.git.upstreams.length} upstream(s) via git-gate)`);
  };

  // 3. Prompt and skills.
  const prompt = async () => {
    if (!plan.agent.prompt) return;
    const text = await readHostFile(expandHome(plan.agent.prompt.hostPath, homeDir), "the prompt file");
    await writeAs(exec, user, plan.agent.prompt.guestPath, text);
    progress(`installed the prompt at ${plan.agent.prompt.guestPath}`);
  };
  const skills = plan.agent.skills.map((skill) => async () => {
    const source = expandHome(skill.hostPath, homeDir);
    await requireDirectory(source, "skills folder");
    await copyFolder(cli, container, { user, source, target: skill.guestPath, exclude: [], ...(options.signal ? { signal: options.signal } : {}) });
    await exec(user, 'chmod -R u=rwX,go=rX "$1"', [skill.guestPath]);
    progress(`installed skills ${skill.guestPath}`);
  });

  // 4. Workspace copy (a mounted workspace needs nothing here).
  const ws = plan.agent.workspace;
  const workspace = async () => {
    if (ws?.mode !== "copy") return;
    const source = expandHome(ws.hostPath, homeDir);
    await requireDirectory(source, "workspace");
    // The image should ship /workspace owned by the agent user; fix it if it does not.
    await exec("0", 'set -e; mkdir -p "$1"; [ "$(stat -c %U "$1")" = "$2" ] || chown "$2" "$1"', [ws.guestPath, user]);
    // Secret files the manifest names inside the workspace stay on the host.
    const exclude: string[] = tarExcludes(ws.exclude ?? []);
    if (!ws.copyGit) exclude.push("./.git");
    else {
      const dotGit = await stat(path.join(source, ".git")).catch(() => undefined);
      if (dotGit && !dotGit.isDirectory()) {
        exclude.push("./.git");
        warn(`${source}/.git is a file (worktree or submodule), not a repository folder: copied the files without it`);
      } else if (!dotGit) warn(`copyGit is set but ${source} has no .git folder`);
    }
    await copyFolder(cli, container, { user, source, target: ws.guestPath, exclude, ...(options.signal ? { signal: options.signal } : {}) });
    progress(`copied ${source} into ${ws.guestPath}${ws.copyGit ? " (with .git)" : ""}`);
  };

  // 4b. Claude Code's state: onboarding done, the workspace trusted, the placeholder key
  //     approved, so an attached first start lands at the prompt. Before `claude mcp add`,
  //     which writes the same file.
  const claudeState = async () => {
    await exec(user, CLAUDE_STATE_MERGE_SCRIPT, [`${home}/.claude.json`], renderClaudeCodeState(plan));
    progress(`seeded Claude Code's first-start state (${home}/.claude.json)`);
  };
  const seeded = claudeState();

  // 5. The supervise MCP server (the agent asks, the human approves). Not fatal: an agent
  //    other than Claude Code has no `claude` to register it with. It runs in the workspace,
  //    so it waits for a copied one; not for the fence: it only writes the agent's config,
  //    and the agent has no route out but the bundle anyway (--internal network); the fence
  //    additionally closes the host's gateway address, and is in place before this returns.
  const fence = options.fence ?? Promise.resolve();
  const copied = workspace();
  const files = Promise.allSettled([gitconfig(), prompt(), ...skills.map((step) => step()), copied]);
  const mcp = async () => {
    const ready = await Promise.allSettled([copied, seeded]);
    if (!plan.supervise.enabled || ready.some((r) => r.status === "rejected")) return;
    const result = await cli.docker(
      ["exec", "-u", user, "-w", ws?.guestPath ?? home, container, "claude", "mcp", "add", "--scope", "user", "--transport", "http", "supervise", plan.supervise.url],
      options.signal ? { signal: options.signal } : {},
    );
    if (result.exitCode === 0) progress(`registered the supervise MCP server (${plan.supervise.url})`);
    else warn(`could not register the supervise MCP server: ${tail(result.stderr || result.stdout, 3) || `exit ${result.exitCode}`}`);
  };

  // Wait for every step, so nothing is still writing into the container when a failure
  // makes the caller tear it down; then report the first failure.
  const settled = [...(await Promise.allSettled([fence, trustCa(), mcp(), seeded])), ...(await files)];
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return report;
}

/**
 * Installs the CA PEM (stdin) at "$1" and adds it to the trust store. Debian's
 * update-ca-certificates re-links every certificate (~1.5 s on a small machine); when the
 * result is predictable — Debian layout, no update hooks, a parseable certificate under
 * /usr/local/share/ca-certificates — the same outcome is produced directly: the
 * /etc/ssl/certs/<name>.pem link, its subject-hash link, and the PEM appended to
 * ca-certificates.crt (where update-ca-certificates puts local certificates: last).
 * Anything else falls back to update-ca-certificates.
 */
export const CA_INSTALL_SCRIPT = `set -e
mkdir -p "$(dirname "$1")"; cat > "$1"; chmod 0644 "$1"
fast() {
  case "$1" in /usr/local/share/ca-certificates/*.crt) ;; *) return 1 ;; esac
  command -v openssl >/dev/null 2>&1 && [ -f /etc/ssl/certs/ca-certificates.crt ] || return 1
  for hook in /etc/ca-certificates/update.d/*; do [ ! -e "$hook" ] || return 1; done
  hash=$(openssl x509 -hash -noout -in "$1" 2>/dev/null) || return 1
  first=$(sed -n 2p "$1"); [ -n "$first" ] || return 1
  cd /etc/ssl/certs || return 1
  pem="$(basename "$1" .crt | sed -e 's/ /_/g' -e 's/[()]/=/g' -e 's/,/_/g').pem"
  ln -sf "$1" "$pem" || return 1
  i=0; while [ -e "$hash.$i" ] && [ "$(readlink "$hash.$i")" != "$pem" ]; do i=$((i + 1)); done
  ln -sf "$pem" "$hash.$i" || return 1
  grep -qxF "$first" ca-certificates.crt || sed -e '$a\\' "$1" >> ca-certificates.crt || return 1
}
fast "$1" || update-ca-certificates >/dev/null
`;

type ExecFn = (user: string, script: string, args: string[], input?: string | Buffer) => Promise<string>;

async function writeAs(exec: ExecFn, user: string, guestPath: string, content: string | Buffer): Promise<void> {
  await exec(user, 'set -e; mkdir -p "$(dirname "$1")"; cat > "$1"; chmod 0644 "$1"', [guestPath], content);
}

/** `docker exec -i -u <user> <container> sh -c <script> sh <args…>`; throws with its output on failure. */
export async function execScript(
  cli: DockerCli,
  container: string,
  options: { user: string; script: string; args?: string[]; input?: string | Buffer; signal?: AbortSignal },
): Promise<string> {
  const argv = ["exec", ...(options.input !== undefined ? ["-i"] : []), "-u", options.user, container, "sh", "-c", options.script, "sh", ...(options.args ?? [])];
  const result = await cli.docker(argv, {
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (result.exitCode !== 0) {
    throw new BottleError(`provisioning ${container} failed (exit ${result.exitCode}): ${tail(result.stderr || result.stdout, 8) || "no output"}`, {
      code: "AGENT_PROVISION_FAILED",
      hint: "The agent image must provide sh, tar, update-ca-certificates and the agent user; `bottle logs` shows the bundle's side.",
      details: { script: options.script, args: options.args },
    });
  }
  return result.stdout;
}

/** Streams a host folder into the container (host `tar -c` piped into `docker exec … tar -x`), extracted as `user`. */
export async function copyFolder(
  cli: DockerCli,
  container: string,
  options: { user: string; source: string; target: string; exclude: string[]; signal?: AbortSignal },
): Promise<void> {
  const excludes = options.exclude.map((e) => `--exclude=${e}`);
  const signal = options.signal ? { cancelSignal: options.signal } : {};
  try {
    await execa("tar", [...excludes, "-C", options.source, "-c", "-f", "-", "."], { stderr: "pipe", ...signal }).pipe(
      cli.tools.docker,
      ["exec", "-i", "-u", options.user, container, "sh", "-c", 'set -e; mkdir -p "$1"; tar -x -f - -C "$1" --no-same-owner', "sh", options.target],
      { stderr: "pipe", ...signal },
    );
  } catch (error) {
    const e = error as { stderr?: string; shortMessage?: string; message: string };
    throw new BottleError(`copying ${options.source} into ${container}:${options.target} failed: ${tail(e.stderr || e.shortMessage || e.message, 8)}`, {
      code: "AGENT_PROVISION_FAILED",
      hint: "Check that the folder is readable and the agent image has tar.",
      cause: error,
    });
  }
}

async function readHostFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new BottleError(`cannot read ${what} at ${file}: ${(error as Error).message}`, {
      code: "HOST_FILE_MISSING",
      hint: "Check the path in bottle.json (relative paths resolve against the manifest's folder).",
      cause: error,
    });
  }
}

async function requireDirectory(dir: string, what: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new BottleError(`the ${what} ${dir} is not a folder`, {
      code: "HOST_FILE_MISSING",
      hint: "Check the path in bottle.json (relative paths resolve against the manifest's folder).",
    });
  }
}
