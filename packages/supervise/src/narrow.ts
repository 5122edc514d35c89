import { BottleError } from "@bottle/errors";
import { HTTP_METHODS, type SuperviseRequest } from "./schema.js";

/** What the human may cut an egress-route request down to before approving it. */
export interface Narrowing {
  /** Methods allowed; a subset of what was asked for (any method, when the agent asked for none). */
  methods?: string[];
  /** Path prefixes allowed, each starting with "/"; absent or empty = any path. */
  paths?: string[];
}

function narrowingError(message: string, hint: string): BottleError {
  return new BottleError(message, { code: "SUPERVISE_BAD_NARROWING", hint });
}

/**
 * Checks a narrowing against the request and returns it normalized (upper-case methods,
 * no duplicates). An approval can only take away from what the agent asked for, never add.
 */
export function checkNarrowing(req: SuperviseRequest, narrowing: Narrowing): Required<Narrowing> {
  if (req.kind !== "egress-route") {
    throw narrowingError(`Request ${req.id} is a question; only egress routes can be narrowed`, "Drop --methods/--paths for questions.");
  }
  const asked = req.request.methods;
  const methods = [...new Set((narrowing.methods ?? []).map((m) => m.trim().toUpperCase()).filter(Boolean))];
  for (const m of methods) {
    if (!(HTTP_METHODS as readonly string[]).includes(m)) throw narrowingError(`"${m}" is not an HTTP method`, `Use some of ${HTTP_METHODS.join(", ")}.`);
    if (asked.length > 0 && !asked.includes(m)) {
      throw narrowingError(`${m} was not asked for (the agent asked for ${asked.join(", ")})`, "An approval can only narrow a request: pick among the methods asked for.");
    }
  }
  const paths = [...new Set((narrowing.paths ?? []).map((p) => p.trim()).filter(Boolean))];
  for (const p of paths) {
    if (!p.startsWith("/") || /[\s?#]/.test(p)) throw narrowingError(`path "${p}" is not a path prefix`, 'Give prefixes like "/v1/" (starting with "/", no query).');
  }
  return { methods, paths };
}
