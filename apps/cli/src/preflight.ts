import { BottleError } from "@bottle/errors";
import { formatPath, ManifestError, type Manifest, type ManifestProblem } from "@bottle/manifest";
import { resolvePlan, type BottlePlan, type ResolvePlanOptions } from "@bottle/plan";
import { stat } from "node:fs/promises";
import { checkBundleConfig, expandHome } from "@bottle/state";
import { capabilityProblems } from "@bottle/backend";
import { backendFor } from "./backends.js";

/**
 * Everything `start` refuses about a manifest, in one place: `validate` runs it for every
 * bottle and `start` for its own, before it creates anything. Plans the bottle and renders
 * the bundle's config in memory (the same functions start uses), and collects each refusal
 * as a problem under `bottles.<name>`.
 */
export interface BottleCheck {
  plan?: BottlePlan;
  /** What the manifest gets wrong: validate and start refuse it. */
  problems: ManifestProblem[];
  /**
   * Host files the start would read and cannot (prompt, skills, workspace, extra CA bundle):
   * facts of this machine, not of the manifest. start refuses them before creating anything;
   * validate reports them as warnings (a manifest may be checked where it does not run).
   */
  hostProblems: ManifestProblem[];
}

export async function bottleProblems(manifest: Manifest, bottle: string, options: ResolvePlanOptions): Promise<BottleCheck> {
  const path = formatPath(["bottles", bottle]);
  try {
    const plan = resolvePlan(manifest, bottle, options);
    // what the plan needs that its backend does not declare (start's startBottle refuses the same)
    const refused = capabilityProblems(plan, (await backendFor(plan)).supports);
    if (refused.length > 0) return { plan, problems: refused.map((p) => ({ path: formatPath(["bottles", bottle, ...p.path]), message: p.message, hint: p.hint })), hostProblems: [] };
    await checkBundleConfig(plan);
    return { plan, problems: [], hostProblems: await hostPathProblems(plan, bottle) };
  } catch (error) {
    if (!BottleError.isInstance(error)) throw error;
    const e = error as BottleError;
    return { problems: [{ path, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }], hostProblems: [] };
  }
}

/** Problems of every bottle of the manifest (each planned with its own backend). */
export async function manifestProblems(manifest: Manifest, manifestPath: string): Promise<ManifestProblem[]> {
  return (await manifestCheck(manifest, manifestPath)).problems;
}

/** Problems and host warnings of every bottle (each planned with its own backend), without repeats. */
export async function manifestCheck(manifest: Manifest, manifestPath: string): Promise<{ problems: ManifestProblem[]; hostProblems: ManifestProblem[] }> {
  const problems: ManifestProblem[] = [];
  const hostProblems: ManifestProblem[] = [];
  for (const bottle of Object.keys(manifest.bottles)) {
    const check = await bottleProblems(manifest, bottle, { manifestPath });
    problems.push(...check.problems);
    hostProblems.push(...check.hostProblems);
  }
  return { problems, hostProblems: unique(hostProblems) };
}

function unique(problems: ManifestProblem[]): ManifestProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(`${p.path}\0${p.message}`) && Boolean(seen.add(`${p.path}\0${p.message}`)));
}

/** Plans `bottle` for start; throws a ManifestError (as validate reports it) on any refusal. */
export async function planForStart(manifest: Manifest, bottle: string, options: ResolvePlanOptions, displayFile: string): Promise<BottlePlan> {
  if (!Object.hasOwn(manifest.bottles, bottle)) return resolvePlan(manifest, bottle, options); // throws PLAN_UNKNOWN_BOTTLE with a guess
  const { plan, problems, hostProblems } = await bottleProblems(manifest, bottle, options);
  if (problems.length > 0 || hostProblems.length > 0 || !plan) throw new ManifestError(displayFile, [...problems, ...hostProblems]);
  return plan;
}

/**
 * Host files and folders the start reads (prompt, skills, workspace, extra CA bundle): a
 * missing one would only show once containers are up, and tear them down again.
 */
async function hostPathProblems(plan: BottlePlan, bottle: string): Promise<ManifestProblem[]> {
  const wanted: Array<{ at: PropertyKey[]; hostPath: string; kind: "file" | "directory"; what: string }> = [];
  if (plan.agent.prompt) wanted.push({ at: ["agent", "prompt"], hostPath: plan.agent.prompt.hostPath, kind: "file", what: "the prompt file" });
  plan.agent.skills.forEach((skill, i) => wanted.push({ at: ["agent", "skills", i], hostPath: skill.hostPath, kind: "directory", what: "the skills folder" }));
  if (plan.agent.workspace) wanted.push({ at: ["workspace", "path"], hostPath: plan.agent.workspace.hostPath, kind: "directory", what: "the workspace folder" });
  const problems: ManifestProblem[] = [];
  for (const item of wanted) {
    const full = expandHome(item.hostPath);
    const info = await stat(full).catch(() => undefined);
    const ok = item.kind === "file" ? info?.isFile() : info?.isDirectory();
    if (!ok) {
      problems.push({
        path: formatPath(["bottles", bottle, ...item.at]),
        message: `${item.what} ${full} ${info ? `is not a ${item.kind}` : "does not exist"}`,
        hint: "paths in bottle.json are relative to the manifest's folder (or start with ~/ or /)",
      });
    }
  }
  if (plan.ca.extraCaBundle) {
    const full = expandHome(plan.ca.extraCaBundle);
    if (!(await stat(full).catch(() => undefined))?.isFile()) {
      problems.push({ path: "extraCaBundle", message: `${full} is not a readable file`, hint: "point extraCaBundle at a PEM bundle, e.g. /etc/ssl/certs/ca-certificates.crt" });
    }
  }
  return problems;
}
