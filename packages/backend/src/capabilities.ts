import { BottleError } from "@bottle/errors";
import type { BottlePlan } from "@bottle/plan";
import type { BackendCapabilities } from "./contract.js";

/** One thing a plan needs that its backend does not declare; `path` is under `bottles.<name>`. */
export interface CapabilityProblem {
  path: string[];
  message: string;
  hint: string;
}

/** What `plan` needs that `supports` lacks (empty: the backend can run it). Pure. */
export function capabilityProblems(plan: BottlePlan, supports: BackendCapabilities): CapabilityProblem[] {
  const problems: CapabilityProblem[] = [];
  const other = plan.backend === "docker" ? "smolvm" : "docker";
  if (plan.pipelock.enabled && !supports.pipelock) {
    problems.push({ path: ["pipelock", "enabled"], message: `pipelock is not supported on the ${plan.backend} backend yet`, hint: `use "backend": "${other}" for bottles with pipelock` });
  }
  if (plan.agent.workspace?.mode === "mount" && !supports.workspaceMount) {
    problems.push({ path: ["workspace", "mode"], message: `workspace mode "mount" is not supported on the ${plan.backend} backend`, hint: 'use "mode": "copy"' });
  }
  const runtime = plan.agent.runtime;
  if (runtime !== undefined && !supports.agentRuntimes.includes(runtime)) {
    problems.push({
      path: ["agent", "runtime"],
      message: `agent runtime "${runtime}" is not supported on the ${plan.backend} backend`,
      hint: supports.agentRuntimes.length
        ? `this backend runs ${supports.agentRuntimes.map((r) => `"${r}"`).join(", ")}`
        : `the ${plan.backend} backend isolates the agent its own way; drop agent.runtime or use "backend": "${other}"`,
    });
  }
  return problems;
}

/** Throws the first capability problem as BACKEND_UNSUPPORTED (the code the conformance suite checks). */
export function assertSupported(plan: BottlePlan, supports: BackendCapabilities): void {
  const [first, ...rest] = capabilityProblems(plan, supports);
  if (!first) return;
  throw new BottleError(first.message, {
    code: "BACKEND_UNSUPPORTED",
    hint: first.hint,
    details: { problems: [first, ...rest].map((p) => ({ path: p.path.join("."), message: p.message })) },
  });
}
