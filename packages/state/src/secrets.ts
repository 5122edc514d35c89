import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BottleError } from "@bottle/errors";
import type { BottlePlan } from "@bottle/plan";
import { mkdirPrivate, writeFileAtomic } from "./fs.js";
import { stateLayout } from "./layout.js";

export interface SecretReadContext {
  env?: NodeJS.ProcessEnv;
  homeDir?: string;
}

/**
 * Reads every planned secret from the host (env var or file). All missing ones are
 * reported together; values never appear in messages.
 */
export async function resolveSecrets(plan: BottlePlan, ctx: SecretReadContext = {}): Promise<Record<string, string>> {
  const env = ctx.env ?? process.env;
  const home = ctx.homeDir ?? os.homedir();
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const secret of plan.secrets) {
    if ("env" in secret.source) {
      const value = env[secret.source.env];
      if (value === undefined || value === "") missing.push(`${secret.id}: environment variable ${secret.source.env} is not set`);
      else values[secret.id] = value;
    } else {
      const file = secret.source.file.startsWith("~/") ? path.join(home, secret.source.file.slice(2)) : secret.source.file;
      try {
        const text = await readFile(file, "utf8");
        // ssh keys need their trailing newline; tokens must not carry one
        values[secret.id] = text.includes("PRIVATE KEY-----") ? text.replace(/\s*$/, "\n") : text.trim();
      } catch (error) {
        missing.push(`${secret.id}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
      }
    }
  }
  if (missing.length > 0) {
    throw new BottleError(`bottle ${plan.bottle} needs ${missing.length} secret${missing.length === 1 ? "" : "s"} it cannot read:\n  ${missing.join("\n  ")}`, {
      code: "SECRET_MISSING",
      hint: "export the variables or create the files named in the manifest; values stay on the host and in the sidecars, never in the agent",
    });
  }
  return values;
}

/**
 * Writes `<state>/secrets/secrets.json` (every planned secret, by id) and the gate's
 * credential files `git/<upstream>/ssh_key` or `git/<upstream>/token`, all 0600 in 0700
 * folders. Only the bundle mounts this folder.
 */
export async function writeSecretFiles(plan: BottlePlan, stateDir: string, values: Readonly<Record<string, string>>): Promise<string[]> {
  const missing = plan.secrets.filter((s) => values[s.id] === undefined).map((s) => s.id);
  if (missing.length) {
    throw new BottleError(`missing values for planned secrets: ${missing.join(", ")}`, {
      code: "SECRET_MISSING",
      hint: "Set the environment variables or create the files the manifest references (`bottle plan` lists them).",
    });
  }
  const dir = stateLayout(stateDir).secrets;
  await mkdirPrivate(dir);
  const all = Object.fromEntries(plan.secrets.map((s) => [s.id, values[s.id]!]));
  const written = [await writeFileAtomic(path.join(dir, "secrets.json"), `${JSON.stringify(all, null, 2)}\n`, 0o600)];
  for (const upstream of plan.git.upstreams) {
    if (!upstream.credential) continue;
    const value = values[upstream.credential]!;
    const folder = path.join(dir, "git", upstream.name);
    await mkdirPrivate(path.join(dir, "git"));
    await mkdirPrivate(folder);
    // ssh refuses a key file without its final newline; tokens must not carry one
    written.push(
      upstream.transport === "ssh"
        ? await writeFileAtomic(path.join(folder, "ssh_key"), value.endsWith("\n") ? value : `${value}\n`, 0o600)
        : await writeFileAtomic(path.join(folder, "token"), value.trim(), 0o600),
    );
  }
  return written;
}
