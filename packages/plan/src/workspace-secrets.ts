import path from "node:path";
import { BottleError } from "@bottle/errors";
import type { PlannedSecret } from "./types.js";

export interface WorkspaceSecretFile {
  secretId: string;
  /** Absolute host path of the secret file. */
  hostPath: string;
  /** Path inside the workspace, `/`-separated. */
  relative: string;
}

/**
 * Secret files the manifest names that lie inside the workspace folder. Pure path
 * arithmetic: a copy would carry them into the agent, a mount would show them.
 */
export function secretFilesInWorkspace(secrets: readonly PlannedSecret[], workspace: string | undefined): WorkspaceSecretFile[] {
  if (!workspace) return [];
  const found: WorkspaceSecretFile[] = [];
  for (const secret of secrets) {
    if (!("file" in secret.source)) continue;
    const file = secret.source.file;
    if (!path.isAbsolute(file)) continue;
    const relative = path.relative(workspace, file);
    if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) continue;
    found.push({ secretId: secret.id, hostPath: file, relative: relative.split(path.sep).join("/") });
  }
  return found;
}

/** `tar --exclude` patterns (member names `./<relative>`, glob characters escaped). */
export function tarExcludes(relativePaths: readonly string[]): string[] {
  return [...new Set(relativePaths.map((rel) => `./${rel.replace(/[\\*?[]/g, "\\$&")}`))].sort();
}

/** A mounted workspace cannot hide a file: refuse, naming the files. */
export function refuseMountedSecrets(files: readonly WorkspaceSecretFile[], workspace: string): BottleError {
  const list = files.map((f) => f.relative).join(", ");
  return new BottleError(`the workspace ${workspace} is mounted into the agent and holds secret file(s) the manifest names: ${list}`, {
    code: "PLAN_SECRET_IN_WORKSPACE",
    hint: "move the secret file(s) outside the workspace folder, or use workspace mode \"copy\" (the copy leaves them out)",
    details: { files: files.map((f) => ({ secret: f.secretId, path: f.relative })) },
  });
}
