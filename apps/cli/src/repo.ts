import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BottleError } from "@bottle/errors";

/** The checkout holding images/ and scripts/ (the CLI runs from apps/cli/dist). */
export function repoRoot(): string {
  const fromEnv = process.env.BOTTLE_REPO_ROOT;
  const candidate = fromEnv ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
  if (!existsSync(path.join(candidate, "images", "sidecars", "Dockerfile"))) {
    throw new BottleError(`cannot find the bottle images (looked in ${candidate}/images)`, {
      code: "CLI_NO_REPO",
      hint: "run bottle from its checkout, or set BOTTLE_REPO_ROOT to it",
    });
  }
  return candidate;
}
