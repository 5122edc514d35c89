import type { BaseChoice, BuiltImage, ImageProgress } from "@bottle/backend-docker";
import { buildCaBundle, imageTags, recipeDir } from "./images.js";

export interface BaseFlags {
  /** --offline-base: the debootstrap base, no registry needed (CI, air-gapped machines). */
  offlineBase?: boolean;
  /** --base-image: the Node image to build on (default node:22-bookworm-slim). */
  baseImage?: string;
}

export interface BuildFlags extends BaseFlags {
  extraCa?: string;
  force?: boolean;
  buildArgs?: Record<string, string>;
  /** `start`: keep the base the existing images were built on unless a flag says otherwise. */
  keepExistingBase?: boolean;
}

/** Builds (or confirms up to date) this CLI's images from the recipes it carries. */
export async function buildCliImages(flags: BuildFlags, onProgress: ImageProgress): Promise<BuiltImage[]> {
  const lib = await import("@bottle/backend-docker");
  const tags = imageTags();
  const base = await chooseBase(flags, async () => (await lib.builtOnBase(tags.agent)) ?? (await lib.builtOnBase(tags.sidecars)), lib.DEFAULT_REGISTRY_BASE);
  const extraCaBundle = buildCaBundle(flags.extraCa);
  return lib.buildImages({
    recipeDir: recipeDir(),
    base,
    tags,
    onProgress,
    ...(flags.force ? { force: true } : {}),
    ...(extraCaBundle ? { extraCaBundle } : {}),
    ...(flags.buildArgs ? { buildArgs: flags.buildArgs } : {}),
  });
}

/**
 * Flags first (--offline-base, --base-image), then $BOTTLE_OFFLINE_BASE=1, then (for
 * `start`) the base the images already carry, else a Node image from the user's registry.
 */
export async function chooseBase(
  flags: BuildFlags,
  existing: () => Promise<BaseChoice | undefined>,
  registryDefault: string,
): Promise<BaseChoice> {
  if (flags.offlineBase) return { kind: "offline" };
  if (flags.baseImage) return { kind: "registry", image: flags.baseImage };
  if (process.env.BOTTLE_OFFLINE_BASE === "1") return { kind: "offline" };
  if (flags.keepExistingBase) {
    const found = await existing();
    if (found) return found;
  }
  return { kind: "registry", image: registryDefault };
}
