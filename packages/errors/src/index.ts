const MARKER = Symbol.for("bottle.error");

export interface BottleErrorOptions {
  /** Stable, machine-readable identifier, e.g. `MANIFEST_INVALID`. */
  code: string;
  /** What to do about it, for a human. */
  hint?: string;
  /** Structured details for `--json` output (never secret values). */
  details?: unknown;
  cause?: unknown;
}

/**
 * A problem the user can fix (bad manifest, missing engine, unknown bottle).
 * The CLI prints `message` and `hint` without a stack and exits 2.
 * Anything that is not a BottleError is a bug and prints its stack.
 */
export class BottleError extends Error {
  readonly [MARKER] = true;
  readonly code: string;
  readonly hint: string | undefined;
  readonly details: unknown;

  constructor(message: string, options: BottleErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BottleError";
    this.code = options.code;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** Marker check that works across package copies, unlike `instanceof`. */
  static isInstance(value: unknown): value is BottleError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** Renders a BottleError the way the CLI prints it: message, then `hint: …`. */
export function formatBottleError(error: BottleError): string {
  return error.hint ? `${error.message}\nhint: ${error.hint}` : error.message;
}
