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

/**
 * CA bundle trusted while building images (registry access through a TLS-intercepting
 * proxy): --extra-ca, else $BOTTLE_EXTRA_CA_BUNDLE, else $NODE_EXTRA_CA_CERTS, else the
 * system bundle. Kept apart
 * from a manifest's extraCaBundle, which is what the sidecars trust upstream.
 */
export function buildCaBundle(explicit?: string): string | undefined {
  // the system bundle last: it holds a corporate proxy's CA when the host trusts one
  const candidate = explicit ?? process.env.BOTTLE_EXTRA_CA_BUNDLE ?? process.env.NODE_EXTRA_CA_CERTS ?? SYSTEM_CA_BUNDLE;
  return candidate && existsSync(candidate) ? candidate : undefined;
}

const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
