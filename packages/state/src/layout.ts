import os from "node:os";
import path from "node:path";

/** `$XDG_STATE_HOME/bottle`, or `~/.local/state/bottle`. */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(os.homedir(), ".local", "state");
  return path.join(base, "bottle");
}

/** `<state root>/<slug>`: one bottle's state dir. */
export function stateDirFor(slug: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateRoot(env), slug);
}

/** Folders and files of one bottle's state dir; see docs/bundle-contract.md for what mounts where. */
export interface StateLayout {
  root: string;
  metadata: string;
  /** → bundle /etc/bottle (read-only) */
  config: string;
  ca: string;
  gitGate: string;
  /** → bundle /run/bottle/secrets (read-only, 0700) */
  secrets: string;
  /** → bundle /var/lib/bottle (read-write) */
  bundle: string;
  requests: string;
  logs: string;
  approvedRoutes: string;
  composeFile: string;
}

export function stateLayout(stateDir: string): StateLayout {
  return {
    root: stateDir,
    metadata: path.join(stateDir, "metadata.json"),
    config: path.join(stateDir, "config"),
    ca: path.join(stateDir, "config", "ca"),
    gitGate: path.join(stateDir, "config", "git-gate"),
    secrets: path.join(stateDir, "secrets"),
    bundle: path.join(stateDir, "bundle"),
    requests: path.join(stateDir, "bundle", "requests"),
    logs: path.join(stateDir, "logs"),
    approvedRoutes: path.join(stateDir, "approved-routes.json"),
    composeFile: path.join(stateDir, "compose.yaml"),
  };
}

/** `~/x` → `<home>/x`; other paths unchanged. */
export function expandHome(p: string, homeDir: string = os.homedir()): string {
  if (p === "~") return homeDir;
  return p.startsWith("~/") ? path.join(homeDir, p.slice(2)) : p;
}
