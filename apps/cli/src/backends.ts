import { dockerBackend } from "@bottle/backend-docker";
import { BottleError } from "@bottle/errors";
import type { BottlePlan } from "@bottle/plan";

/** The backend that runs a plan. */
export function backendFor(plan: Pick<BottlePlan, "backend">) {
  if (plan.backend === "docker") return dockerBackend;
  throw new BottleError(`the ${plan.backend} backend cannot run bottles from this CLI yet`, {
    code: "CLI_BACKEND_UNAVAILABLE",
    hint: 'use "backend": "docker" (or --backend docker)',
  });
}
