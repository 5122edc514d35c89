import type { BottlePlan } from "@bottle/plan";
import { acquireStartLock, resolveSecrets, writeBundleFiles, writeFileAtomic, type SecretReadContext, type StateLayout } from "@bottle/state";
import { assertSupported } from "./capabilities.js";
import { BACKEND_SPEC_VERSION, type BottleBackend, type LaunchSession, type ProgressListener } from "./contract.js";
import { openStartRecord } from "./start-record.js";
import { BottleError } from "@bottle/errors";

export interface StartRequest {
  plan: BottlePlan;
  /** Re-plans with facts learnt while launching (smolvm: the bundle's address). Default: the plan as is. */
  planFor?: (facts: { bundleAddress?: string }) => BottlePlan;
  layout: StateLayout;
  /** Secret values by planned id; default: read from the host now (resolveSecrets). */
  secrets?: Record<string, string>;
  secretContext?: SecretReadContext;
  /** PID that holds the bottle once ready; `null` = detached. Default: this process. */
  holderPid?: number | null;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}

/** Refuses a backend written against another version of the contract. */
export function checkSpecVersion(backend: Pick<BottleBackend, "specVersion" | "name">): void {
  if (backend.specVersion !== BACKEND_SPEC_VERSION) {
    throw new BottleError(`the ${backend.name} backend implements ${String(backend.specVersion)}, this CLI speaks ${BACKEND_SPEC_VERSION}`, {
      code: "BACKEND_SPEC_UNSUPPORTED",
      hint: "install matching versions of @bottle/cli and the backend package",
    });
  }
}

/**
 * The start of a bottle, the same for every backend: the declared capabilities are
 * checked and the secrets read before anything is created; then one start at a time
 * (the start lock), the backend's preflight (not already running, images present), a
 * fresh state dir with metadata "starting", approvals reset, the
 * backend's launch, and "ready" written last. A failed or interrupted launch leaves the
 * bottle marked stopped with its secrets removed (the backend removes what it created).
 */
export async function startBottle(backend: BottleBackend, request: StartRequest): Promise<BottlePlan> {
  const { plan, layout } = request;
  checkSpecVersion(backend);
  assertSupported(plan, backend.supports);
  // a missing secret is the user's to fix before anything is created
  const secrets = request.secrets ?? (await resolveSecrets(plan, request.secretContext));
  const lock = await acquireStartLock(layout.root, { bottle: plan.bottle });
  try {
    // a running bottle keeps its state: nothing below runs unless the backend found it not running
    await backend.preflight(plan);
    const start = await openStartRecord(layout.root, plan, request.holderPid === undefined ? {} : { holderPid: request.holderPid });
    const onProgress = request.onProgress ?? (() => {});
    onProgress({ step: "state", message: `state dir ${layout.root}` });
    // Approvals last as long as the bottle: a fresh start begins from the manifest alone.
    await writeFileAtomic(layout.approvedRoutes, "[]\n", 0o600);
    const session: LaunchSession = {
      plan,
      planFor: request.planFor ?? (() => plan),
      layout,
      writeBundleFiles: (facts = {}) => writeBundleFiles(layout, plan, { secrets, ...(facts.internalCidr ? { internalCidr: facts.internalCidr } : {}) }),
      record: (facts) => start.record(facts),
      onProgress,
      ...(request.signal ? { signal: request.signal } : {}),
    };
    let running: BottlePlan;
    try {
      running = await backend.launch(session);
    } catch (error) {
      await start.failed();
      throw error;
    }
    await start.ready();
    onProgress({ step: "ready", message: `bottle ${plan.bottle} is ready` });
    return running;
  } finally {
    await lock.release();
  }
}
