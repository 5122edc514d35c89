import { BottleError } from "@bottle/errors";
import { formatPath, ManifestError, type Manifest, type ManifestProblem } from "@bottle/manifest";
import { resolvePlan, type BottlePlan, type ResolvePlanOptions } from "@bottle/plan";
import { checkBundleConfig } from "@bottle/state";
import { capabilityProblems } from "@bottle/backend";
import { backendFor } from "./backends.js";

/**
 * Everything `start` refuses about a manifest, in one place: `validate` runs it for every
 * bottle and `start` for its own, before it creates anything. Plans the bottle and renders
 * the bundle's config in memory (the same functions start uses), and collects each refusal
 * as a problem under `bottles.<name>`.
 */
export async function bottleProblems(manifest: Manifest, bottle: string, options: ResolvePlanOptions): Promise<{ plan?: BottlePlan; problems: ManifestProblem[] }> {
  const path = formatPath(["bottles", bottle]);
  try {
    const plan = resolvePlan(manifest, bottle, options);
    // what the plan needs that its backend does not declare (start's startBottle refuses the same)
    const refused = capabilityProblems(plan, (await backendFor(plan)).supports);
    if (refused.length > 0) return { plan, problems: refused.map((p) => ({ path: formatPath(["bottles", bottle, ...p.path]), message: p.message, hint: p.hint })) };
    await checkBundleConfig(plan);
    return { plan, problems: [] };
  } catch (error) {
    if (!BottleError.isInstance(error)) throw error;
    const e = error as BottleError;
    return { problems: [{ path, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }] };
  }
}

/** Problems of every bottle of the manifest (each planned with its own backend). */
export async function manifestProblems(manifest: Manifest, manifestPath: string): Promise<ManifestProblem[]> {
  const problems: ManifestProblem[] = [];
  for (const bottle of Object.keys(manifest.bottles)) problems.push(...(await bottleProblems(manifest, bottle, { manifestPath })).problems);
  return problems;
}

/** Plans `bottle` for start; throws a ManifestError (as validate reports it) on any refusal. */
export async function planForStart(manifest: Manifest, bottle: string, options: ResolvePlanOptions, displayFile: string): Promise<BottlePlan> {
  if (!Object.hasOwn(manifest.bottles, bottle)) return resolvePlan(manifest, bottle, options); // throws PLAN_UNKNOWN_BOTTLE with a guess
  const { plan, problems } = await bottleProblems(manifest, bottle, options);
  if (problems.length > 0 || !plan) throw new ManifestError(displayFile, problems);
  return plan;
}
