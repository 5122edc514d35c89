import { BottleError } from "@bottle/errors";
import { bottlePhase, pidAlive, readMetadata, stateDirFor } from "@bottle/state";

/** Throws BOTTLE_NOT_READY unless the bottle finished starting (its agent is fenced and provisioned). */
export async function assertReady(slug: string, stateDir: string = stateDirFor(slug)): Promise<void> {
  const metadata = await readMetadata(stateDir);
  if (!metadata) return; // not started by this CLI (e.g. a test's own state dir elsewhere)
  const phase = bottlePhase(metadata, pidAlive);
  if (phase === "ready") return;
  throw new BottleError(
    phase === "starting"
      ? `bottle ${slug} is still starting: its agent is not fenced and provisioned yet`
      : phase === "interrupted"
        ? `bottle ${slug} did not finish starting (the start was interrupted); it is not fenced and provisioned`
        : `bottle ${slug} is stopped`,
    {
      code: "BOTTLE_NOT_READY",
      hint: phase === "starting" ? "Wait for `bottle start` to finish." : "Remove it with `bottle cleanup` (or `bottle stop`), then start it again.",
    },
  );
}

