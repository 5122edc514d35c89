/** One step of a launch, stop or provisioning, for the CLI to show. */
export interface ProgressEvent {
  step: "preflight" | "state" | "networks" | "config" | "compose-up" | "fence" | "health" | "provision" | "ready" | "teardown";
  message: string;
  level?: "info" | "warn";
}

export type ProgressListener = (event: ProgressEvent) => void;
