import { readFileSync } from "node:fs";
import { constants } from "node:os";

/**
 * Whether process `pid` has installed a handler for `signal`, read from the `SigCgt` mask in
 * `/proc/<pid>/status`. A Node daemon catches SIGHUP only once its code has run
 * `process.on("SIGHUP")`; before that the default action ends it. `undefined` where /proc
 * cannot tell (not Linux, process gone).
 */
export function catchesSignal(pid: number, signal: NodeJS.Signals, procRoot = "/proc"): boolean | undefined {
  const number = constants.signals[signal];
  if (number === undefined) return undefined;
  let status: string;
  try {
    status = readFileSync(`${procRoot}/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const mask = /^SigCgt:\s*([0-9a-fA-F]+)$/m.exec(status)?.[1];
  if (mask === undefined) return undefined;
  return ((BigInt(`0x${mask}`) >> BigInt(number - 1)) & 1n) === 1n;
}
