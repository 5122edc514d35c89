import type { BottlePlan } from "@bottle/plan";
import type { BottleMetadata, StateLayout } from "@bottle/state";

/** The version of this contract; a backend names the one it implements. */
export const BACKEND_SPEC_VERSION = "bottle-backend-v1" as const;

export type BackendName = BottlePlan["backend"];

/** One line of start-up progress (the CLI prints them; tests collect them). */
export interface ProgressEvent {
  step: string;
  message: string;
  level?: "info" | "warn";
}
export type ProgressListener = (event: ProgressEvent) => void;

/**
 * What a backend can do. Declared, not discovered: `start` and `validate` refuse a plan
 * that needs something its backend does not declare (see capabilityProblems), and the
 * conformance suite checks each declaration against the running backend.
 */
export interface BackendCapabilities {
  /** The pipelock sidecar (HTTP DLP scanner) in the bundle. */
  pipelock: boolean;
  /** `logs <sidecar>`: one sidecar's lines rather than the whole bundle log. */
  sidecarLogs: boolean;
  /** `logs --follow`. */
  followLogs: boolean;
  /** `workspace.mode: "mount"` (a host folder bound into the agent). */
  workspaceMount: boolean;
  /** Agent runtimes (`agent.runtime`) this backend can run, e.g. ["runc", "runsc"]. */
  agentRuntimes: readonly string[];
}

/** Facts a backend learns while it launches, recorded in metadata.json. */
export type LaunchFacts = Partial<Pick<BottleMetadata, "internalSubnet" | "composeFile">>;

/**
 * Everything a backend's `launch` gets from the shared choreography (startBottle): the
 * state dir is prepared, metadata says "starting", the secrets are resolved. The backend
 * creates its machines, calls writeBundleFiles once it knows what the files need, fences
 * and provisions the agent, and returns the plan in force.
 */
export interface LaunchSession {
  plan: BottlePlan;
  /** Re-plans the bottle with a fact only known while launching (smolvm: the bundle's IP). */
  planFor(facts: { bundleAddress?: string }): BottlePlan;
  layout: StateLayout;
  /** Writes the bundle's config and secret files into the state dir. */
  writeBundleFiles(facts?: { internalCidr?: string }): Promise<void>;
  /** Adds facts to metadata.json while the bottle is starting. */
  record(facts: LaunchFacts): Promise<void>;
  onProgress: ProgressListener;
  signal?: AbortSignal;
}

/** A started bottle, by plan or by slug. */
export type BottleRef = Pick<BottlePlan, "slug" | "machines"> | string;

export interface ExecRequest {
  command: readonly string[];
  /** Default: the agent user. */
  user?: string;
  /**
   * "inherit": the command's streams are this process's (a terminal when there is one).
   * "capture": output is collected and returned; nothing is printed.
   */
  stdio?: "inherit" | "capture";
}

export interface ExecResult {
  exitCode: number;
  /** Only with stdio "capture". */
  stdout?: string;
  stderr?: string;
}

export interface LogsRequest {
  sidecar?: string;
  follow?: boolean;
  tail?: number;
  /** Where lines go; default process.stdout. */
  output?: NodeJS.WritableStream;
}

export interface MachineStatus {
  state: string;
  health?: string;
}

/** One row of `bottle ls`, the same for every backend. */
export interface BottleListing {
  slug: string;
  bottle: string;
  backend: BackendName;
  bundle?: MachineStatus;
  agent?: MachineStatus;
}

export interface StopReport {
  /** Where the bundle's logs were saved, when there were any. */
  logFile?: string;
}

export interface CleanupFilter {
  /** Only this bottle. */
  slug?: string;
  /** Whether the CLI holding a bottle still runs (a live holder's bottle is kept). */
  isAlive?: (pid: number) => boolean;
}

export interface CleanupReport {
  /** Bottles whose machines/networks were removed, with why. */
  bottles: Array<{ slug: string; reason: string }>;
  /** Orphans that could not be removed (cleanup went on with the others). */
  failures: Array<{ slug: string; error: string }>;
}

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  hint?: string;
  /** Failing is not fatal (e.g. an optional runtime). */
  optional?: boolean;
}

export interface DoctorReport {
  backend: BackendName;
  ok: boolean;
  checks: DoctorCheck[];
}

/**
 * The one interface every backend implements. Methods return data and never print,
 * except `attach`, `exec` with stdio "inherit" and `logs`, whose output is the point.
 * `stop` and `cleanup` are idempotent.
 */
export interface BottleBackend {
  readonly specVersion: typeof BACKEND_SPEC_VERSION;
  readonly name: BackendName;
  readonly supports: BackendCapabilities;
  /**
   * Refuses, creating and writing nothing, what would make launch fail at once: the bottle
   * already running or leftovers of it (BOTTLE_ALREADY_RUNNING), missing images, a runtime
   * the platform lacks. Runs under the start lock, before the state dir is touched, so a
   * start of a running bottle leaves that bottle's state (metadata, approvals, secrets) alone.
   */
  preflight(plan: BottlePlan): Promise<void>;
  /** Brings the bottle up; returns the plan in force (fenced and provisioned). */
  launch(session: LaunchSession): Promise<BottlePlan>;
  /** Runs the agent command (or `command`) attached to this terminal; its exit code. */
  attach(plan: BottlePlan, command?: readonly string[]): Promise<number>;
  /** A command in the agent, as the agent user unless told otherwise. */
  exec(ref: BottleRef, request: ExecRequest): Promise<ExecResult>;
  /** Prints the bundle's (or one sidecar's, or the agent's) logs; the exit code. */
  logs(ref: BottleRef, request: LogsRequest): Promise<number>;
  /** Hands the state dir's current bundle files to the bundle and signals the reloadable daemons. */
  reload(plan: BottlePlan, layout: StateLayout): Promise<{ signalled: string[] }>;
  /** Saves the logs into the state dir and removes every machine and network. */
  stop(plan: BottlePlan, layout: StateLayout, onProgress?: ProgressListener): Promise<StopReport>;
  list(): Promise<BottleListing[]>;
  /** Removes what bottles whose CLI died (or whose start never finished) left behind. */
  cleanup(filter?: CleanupFilter): Promise<CleanupReport>;
  doctor(): Promise<DoctorReport>;
}
