import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BottleError } from "@bottle/errors";

/** What `pnpm build` writes into dist/images/images.json (scripts/pack-images.mjs). */
export interface PackedImages {
  version: string;
  tags: { agent: string; sidecars: string };
  recipeHashes: { agent: string; sidecars: string };
}

let cached: { dir: string; packed: PackedImages } | undefined;

/**
 * The image recipes this CLI carries (`dist/images`, next to the running bundle; from
 * `src/` in unit tests, the built `dist/images` beside it). Never a checkout.
 */
function packedImages(): { dir: string; packed: PackedImages } {
  if (cached) return cached;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, "images"), path.join(here, "..", "dist", "images")];
  const dir = candidates.find((candidate) => existsSync(path.join(candidate, "images.json")));
  if (!dir) {
    throw new BottleError(`this bottle CLI carries no image recipes (looked in ${candidates.join(", ")})`, {
      code: "CLI_NO_IMAGE_RECIPES",
      hint: "reinstall the CLI (npm i -g @bottle/cli); from a clone, run `pnpm build`",
    });
  }
  cached = { dir, packed: JSON.parse(readFileSync(path.join(dir, "images.json"), "utf8")) as PackedImages };
  return cached;
}

/** Folder holding `<name>/stage.mjs`, `stage-lib.mjs` and `base-image.sh`. */
export function recipeDir(): string {
  return packedImages().dir;
}

/** `bottle/<name>:<cli version>-<recipe hash>`: this CLI's images, never another version's. */
export function imageTags(): { agent: string; sidecars: string } {
  return { ...packedImages().packed.tags };
}

/**
 * CA bundle trusted while building images (registry access through a TLS-intercepting
 * proxy): --extra-ca, else $BOTTLE_EXTRA_CA_BUNDLE, else $NODE_EXTRA_CA_CERTS, else the
 * system bundle. Kept apart from a manifest's extraCaBundle, which is what the sidecars
 * trust upstream.
 */
export function buildCaBundle(explicit?: string): string | undefined {
  // the system bundle last: it holds a corporate proxy's CA when the host trusts one
  const candidate = explicit ?? process.env.BOTTLE_EXTRA_CA_BUNDLE ?? process.env.NODE_EXTRA_CA_CERTS ?? SYSTEM_CA_BUNDLE;
  return candidate && existsSync(candidate) ? candidate : undefined;
}

const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
