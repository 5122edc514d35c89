import os from "node:os";
import path from "node:path";

/** `$XDG_STATE_HOME/bottle`, or `~/.local/state/bottle`. */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(os.homedir(), ".local", "state");
  return path.join(base, "bottle");
}

/** Folders of one bottle's state dir; see docs/bundle-contract.md for what mounts where. */
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

export function stateLayout(slug: string, root = stateRoot()): StateLayout {
  const dir = path.join(root, slug);
  return {
    root: dir,
    metadata: path.join(dir, "metadata.json"),
    config: path.join(dir, "config"),
    ca: path.join(dir, "config", "ca"),
    gitGate: path.join(dir, "config", "git-gate"),
    secrets: path.join(dir, "secrets"),
    bundle: path.join(dir, "bundle"),
    requests: path.join(dir, "bundle", "requests"),
    logs: path.join(dir, "logs"),
    approvedRoutes: path.join(dir, "approved-routes.json"),
    composeFile: path.join(dir, "compose.yaml"),
  };
}
