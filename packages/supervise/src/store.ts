import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BottleError } from "@bottle/errors";
import type { EgressRoutePlan } from "@bottle/plan";
import { checkNarrowing, type Narrowing } from "./narrow.js";
import { superviseRequestSchema, type EgressRouteRequest, type QuestionRequest, type SuperviseRequest } from "./schema.js";

/** Request ids: `req-` and 8 hex digits; also what keeps ids from naming other paths. */
const ID = /^req-[0-9a-f]{8}$/;

export interface Decision {
  approve: boolean;
  /** Why, shown to the agent. */
  reason?: string;
  /** The human's answer to a question. */
  answer?: string;
  /** Who decided, e.g. `alice (ui)`. */
  by?: string;
  /** Approve less than was asked for (egress routes only; see narrow.ts). */
  narrow?: Narrowing;
}

export type NewRequest =
  | { kind: "egress-route"; request: EgressRouteRequest["request"] }
  | { kind: "question"; request: QuestionRequest["request"] };

function unknownRequest(dir: string, id: string, cause?: unknown): BottleError {
  return new BottleError(`No supervise request "${id}" in ${dir}`, {
    code: "SUPERVISE_REQUEST_UNKNOWN",
    hint: "List the bottle's requests (`bottle requests <bottle>`) and use one of the ids shown.",
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Writes `request` to `<dir>/<id>.json` through a temporary file and a rename. */
export async function writeRequest(dir: string, request: SuperviseRequest): Promise<void> {
  const file = join(dir, `${request.id}.json`);
  const tmp = join(dir, `.${request.id}.json.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  await writeFile(tmp, `${JSON.stringify(request, null, 2)}\n`, { mode: 0o644 });
  try {
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Records a new pending request and returns it. */
export async function createRequest(dir: string, input: NewRequest, now = new Date()): Promise<SuperviseRequest> {
  await mkdir(dir, { recursive: true });
  const existing = new Set(await readdir(dir));
  let id: string;
  do id = `req-${randomBytes(4).toString("hex")}`;
  while (existing.has(`${id}.json`));
  const request = { id, status: "pending", createdAt: now.toISOString(), ...input } as SuperviseRequest;
  await writeRequest(dir, request);
  return request;
}

/** Reads one request; BottleError `SUPERVISE_REQUEST_UNKNOWN` when there is none by that id. */
export async function readRequest(dir: string, id: string): Promise<SuperviseRequest> {
  if (!ID.test(id)) throw unknownRequest(dir, id);
  let text: string;
  try {
    text = await readFile(join(dir, `${id}.json`), "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") throw unknownRequest(dir, id, cause);
    throw cause;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = superviseRequestSchema.safeParse(json);
  if (!parsed.success || parsed.data.id !== id) {
    throw new BottleError(`Supervise request file ${id}.json in ${dir} is malformed`, {
      code: "SUPERVISE_REQUEST_MALFORMED",
      hint: "Request files are written by bottle-supervise and `bottle approve/deny`; do not edit them by hand.",
      details: parsed.success ? { id: parsed.data.id } : parsed.error.issues,
    });
  }
  return parsed.data;
}

/**
 * Every well-formed request in `dir`, oldest first. A missing folder means no requests;
 * temporary and malformed files are skipped.
 */
export async function listRequests(dir: string): Promise<SuperviseRequest[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const requests: SuperviseRequest[] = [];
  for (const name of names) {
    const id = name.endsWith(".json") ? name.slice(0, -".json".length) : "";
    if (!ID.test(id)) continue;
    try {
      requests.push(await readRequest(dir, id));
    } catch (error) {
      if (!BottleError.isInstance(error)) throw error;
    }
  }
  return requests.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

/**
 * Approves or denies a pending request (written by rename). BottleError when the id is
 * unknown (`SUPERVISE_REQUEST_UNKNOWN`) or the request was already decided
 * (`SUPERVISE_REQUEST_DECIDED`).
 */
export async function decideRequest(
  dir: string,
  id: string,
  decision: Decision,
  now = new Date(),
): Promise<SuperviseRequest> {
  const current = await readRequest(dir, id);
  if (current.status !== "pending") {
    throw new BottleError(`Request ${id} was already ${current.status} at ${current.decision?.at ?? "an unknown time"}`, {
      code: "SUPERVISE_REQUEST_DECIDED",
      hint: "A decision is final. The agent can file a new request if it still needs access.",
    });
  }
  const narrowed = decision.approve && decision.narrow ? checkNarrowing(current, decision.narrow) : undefined;
  const decided: SuperviseRequest = {
    ...current,
    status: decision.approve ? "approved" : "denied",
    decision: {
      at: now.toISOString(),
      ...(decision.reason === undefined ? {} : { reason: decision.reason }),
      ...(decision.answer === undefined ? {} : { answer: decision.answer }),
      ...(decision.by === undefined ? {} : { by: decision.by }),
      ...(narrowed && narrowed.methods.length > 0 ? { methods: narrowed.methods } : {}),
      ...(narrowed && narrowed.paths.length > 0 ? { paths: narrowed.paths } : {}),
    },
  };
  await writeRequest(dir, decided);
  return decided;
}

/**
 * The egress route an approved `egress-route` request stands for, in the shape of
 * `EgressRoutePlan` (no credential injection, scanned, intercepted).
 */
export function routeFromApprovedRequest(req: SuperviseRequest): EgressRoutePlan {
  if (req.kind !== "egress-route") {
    throw new BottleError(`Request ${req.id} is a question, not an egress route`, {
      code: "SUPERVISE_NOT_A_ROUTE",
      hint: "Only egress-route requests turn into routes.",
    });
  }
  if (req.status !== "approved") {
    throw new BottleError(`Request ${req.id} is ${req.status}, not approved`, {
      code: "SUPERVISE_NOT_APPROVED",
      hint: "Approve it first (`bottle approve <bottle> <id>`).",
    });
  }
  return {
    id: `approved-${req.id}`,
    host: req.request.host,
    ports: req.request.ports.length > 0 ? [...req.request.ports] : [443],
    // a narrowed approval is what the agent gets (narrow.ts)
    methods: [...(req.decision?.methods ?? req.request.methods)],
    paths: [...(req.decision?.paths ?? [])],
    inject: [],
    passthrough: false,
    scan: true,
    onFinding: "block",
  };
}

/**
 * Takes back an approved egress route: the request file records who revoked it, when and
 * why (written by rename). The caller removes the route and reloads egress.
 */
export async function revokeRequest(
  dir: string,
  id: string,
  revocation: { reason?: string; by?: string } = {},
  now = new Date(),
): Promise<SuperviseRequest> {
  const current = await readRequest(dir, id);
  if (current.kind !== "egress-route" || current.status !== "approved" || current.revoked) {
    throw new BottleError(`Request ${id} is not an approved route in force${current.revoked ? ` (revoked at ${current.revoked.at})` : ""}`, {
      code: "SUPERVISE_NOT_REVOCABLE",
      hint: "Only approved egress routes that are still in force can be revoked (`bottle requests <bottle> --all`).",
    });
  }
  const revoked: SuperviseRequest = {
    ...current,
    revoked: {
      at: now.toISOString(),
      ...(revocation.by === undefined ? {} : { by: revocation.by }),
      ...(revocation.reason === undefined ? {} : { reason: revocation.reason }),
    },
  };
  await writeRequest(dir, revoked);
  return revoked;
}

export interface WaitOptions {
  timeoutMs: number;
  pollMs?: number;
  signal?: AbortSignal;
  /** Called about every `tickMs` while still pending (progress notifications). */
  onTick?: (elapsedMs: number) => void | Promise<void>;
  tickMs?: number;
}

/**
 * Polls the request file until it is no longer pending, the timeout passes or `signal`
 * aborts; returns the last state read. Polling (not fs.watch) because the folder is a bind
 * mount written from outside the container, where inotify events are not reliable.
 */
export async function waitForDecision(dir: string, id: string, options: WaitOptions): Promise<SuperviseRequest> {
  const pollMs = options.pollMs ?? 250;
  const tickMs = options.tickMs ?? 10_000;
  const started = Date.now();
  let nextTick = started + tickMs;
  for (;;) {
    const current = await readRequest(dir, id);
    const elapsed = Date.now() - started;
    if (current.status !== "pending" || elapsed >= options.timeoutMs || options.signal?.aborted) return current;
    if (options.onTick && Date.now() >= nextTick) {
      nextTick += tickMs;
      await options.onTick(elapsed);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(pollMs, options.timeoutMs - elapsed));
      function done() {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", done);
        resolve();
      }
      options.signal?.addEventListener("abort", done, { once: true });
    });
  }
}
