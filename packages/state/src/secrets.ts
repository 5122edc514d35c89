import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BottleError } from "@bottle/errors";
import type { BottlePlan } from "@bottle/plan";

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
