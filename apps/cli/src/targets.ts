import path from "node:path";
import { BottleError } from "@bottle/errors";
import { closest } from "@bottle/manifest";
import { resolvePlan, type BottlePlan } from "@bottle/plan";
import { listMetadata, stateDirFor, stateLayout, stateRoot, type BottleMetadata, type StateLayout } from "@bottle/state";
import { loadManifest } from "./manifest-file.js";
import { imageTags } from "./images.js";

export interface Target {
  metadata: BottleMetadata;
  layout: StateLayout;
}

/** Finds a started bottle by slug or by bottle name (unique among started ones). */
export async function findTarget(nameOrSlug: string): Promise<Target> {
  const all = await listMetadata();
  const bySlug = all.find((m) => m.slug === nameOrSlug);
  const matches = bySlug ? [bySlug] : all.filter((m) => m.bottle === nameOrSlug && !m.stoppedAt);
  if (matches.length === 1) return { metadata: matches[0]!, layout: stateLayout(stateDirFor(matches[0]!.slug)) };
  if (matches.length > 1) {
    throw new BottleError(`${matches.length} running bottles are named "${nameOrSlug}"`, {
      code: "CLI_AMBIGUOUS_BOTTLE",
      hint: `name one by slug: ${matches.map((m) => m.slug).join(", ")}`,
    });
  }
  const names = [...new Set(all.filter((m) => !m.stoppedAt).flatMap((m) => [m.bottle, m.slug]))];
  const guess = closest(nameOrSlug, names);
  throw new BottleError(`no started bottle "${nameOrSlug}" (state in ${stateRoot()})`, {
    code: "CLI_UNKNOWN_BOTTLE",
    hint: guess ? `did you mean "${guess}"?` : "`bottle ls` lists running bottles; `bottle start <name>` starts one",
  });
}

/** Re-resolves the plan a started bottle was launched from (its manifest may have changed). */
export async function planOf(metadata: BottleMetadata): Promise<BottlePlan> {
  const { manifest, file } = await loadManifest(metadata.manifestPath, path.dirname(metadata.manifestPath));
  const plan = resolvePlan(manifest, metadata.bottle, { manifestPath: file, backend: metadata.backend, images: imageTags() });
  if (plan.slug !== metadata.slug) {
    throw new BottleError(`the manifest of ${metadata.slug} moved`, { code: "CLI_MANIFEST_MOVED", hint: "stop the bottle with its slug and start it again" });
  }
  return plan;
}
