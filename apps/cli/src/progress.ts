import type { Output } from "./output.js";

export interface ProgressLike {
  step?: string;
  image?: string;
  kind?: string;
  message: string;
  level?: string;
}

/** Prints long steps as `[  3.1s] step: message` on stderr, so stdout stays for data. */
export function progressPrinter(output: Output, options: { quiet?: boolean; verbose?: boolean } = {}) {
  const started = Date.now();
  return (event: ProgressLike): void => {
    if (options.quiet) return;
    if (event.kind === "log" && !options.verbose) return;
    const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
    const label = event.step ?? (event.image ? `build ${event.image}` : "");
    output.err(`[${seconds}s] ${label ? `${label}: ` : ""}${event.message}`);
  };
}
