import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Names of minimal init programs that reap orphans; tini is Debian's `tini` package. */
const REAPERS = ["tini", "docker-init"];

/** Finds a reaper executable on `pathEnv` (and /sbin, /usr/sbin, where docker puts docker-init). */
export function findReaper(pathEnv = process.env.PATH ?? ""): string | undefined {
  const dirs = [...pathEnv.split(delimiter).filter(Boolean), "/sbin", "/usr/sbin", "/usr/bin"];
  for (const name of REAPERS) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // next
      }
    }
  }
  return undefined;
}

/**
 * Node cannot wait for processes it did not spawn, so as PID 1 it would leave every orphan
 * a daemon re-parents to it as a zombie. When the supervisor finds itself PID 1, it runs
 * itself again under `tini -s` (child subreaper): tini reaps every orphan of the tree and
 * forwards signals to the inner supervisor. Returns that command line.
 */
export function reaperCommand(
  reaper: string,
  nodePath: string,
  script: string,
  args: readonly string[],
): [string, ...string[]] {
  return [reaper, "-s", "--", nodePath, script, ...args];
}
