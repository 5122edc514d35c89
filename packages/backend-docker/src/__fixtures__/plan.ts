import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseManifest } from "@bottle/manifest";
import { resolvePlan, type BottlePlan } from "@bottle/plan";

const require = createRequire(import.meta.url);

/** The example manifest's bottle, planned for a fixed manifest path (deterministic). */
export function examplePlan(bottle = "implementer", options: { workspace?: string } = {}): BottlePlan {
  const manifest = parseManifest(readFileSync(require.resolve("@bottle/manifest/bottle.example.json"), "utf8"));
  return resolvePlan(manifest, bottle, { manifestPath: "/home/dev/project/bottle.json", backend: "docker", ...options });
}
