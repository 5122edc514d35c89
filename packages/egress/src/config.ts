import { readFile, stat } from "node:fs/promises";
import { BottleError } from "@bottle/errors";
import { createLeakDetector, type LeakDetector } from "./leaks.js";
import { parseRoutesFile, type EgressRoutePlan } from "./routes.js";

/** What egress decides with: routes, secret values and the leak detector built from them (swapped whole on reload). */
export interface Config {
  routes: EgressRoutePlan[];
  secrets: Record<string, string>;
  detector: LeakDetector;
}

/** Where the config comes from (the proxy's options). */
export interface ConfigFiles {
  routesFile: string;
  secretsFile?: string;
}

export async function readRequired(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    throw new BottleError(`Cannot read the ${what} at ${path}.`, {
      code: "EGRESS_FILE_UNREADABLE",
      hint: "Check the path passed to bottle-egress and that the bundle's config mount is in place.",
      cause,
    });
  }
}

export async function loadConfig(options: ConfigFiles, log: (line: string) => void): Promise<Config> {
  const routes = parseRoutesFile(await readRequired(options.routesFile, "routes file")).routes;
  let secrets: Record<string, string> = {};
  if (options.secretsFile) {
    secrets = parseSecrets(await readRequired(options.secretsFile, "secrets file"));
    const mode = (await stat(options.secretsFile)).mode & 0o777;
    if (mode & 0o077) log(`warning: ${options.secretsFile} is readable by group/others (mode ${mode.toString(8)}); expected 0600`);
  }
  // Injected values become header values: those must be one line. Other secrets (an ssh
  // key the git gate holds) only feed leak detection and may span lines.
  for (const route of routes) {
    for (const injection of route.inject) {
      const value = secrets[injection.secret];
      if (value !== undefined && /[\r\n]/.test(value)) {
        throw new BottleError(`Invalid egress secrets file: "${injection.secret}" is injected as a header by route ${route.id} and must be one line.`, {
          code: "EGRESS_SECRETS_INVALID",
        });
      }
    }
  }
  return configFrom(routes, secrets);
}

/** The config for these routes and secret values. */
export function configFrom(routes: EgressRoutePlan[], secrets: Record<string, string>): Config {
  return { routes, secrets, detector: createLeakDetector(secrets) };
}

export function parseSecrets(text: string): Record<string, string> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // Never echo the parser message: it may quote part of a secret.
    throw new BottleError("Invalid egress secrets file: not JSON.", {
      code: "EGRESS_SECRETS_INVALID",
      hint: 'Expected {"<secret id>": "<value>", ...} as written by the backend.',
    });
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new BottleError("Invalid egress secrets file: expected an object of id → value.", { code: "EGRESS_SECRETS_INVALID" });
  }
  // No prototype: a route naming the secret "constructor" or "__proto__" finds nothing.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [id, value] of Object.entries(data)) {
    if (typeof value !== "string" || value.includes("\0")) {
      throw new BottleError(`Invalid egress secrets file: the value of "${id}" must be a string without NUL bytes.`, {
        code: "EGRESS_SECRETS_INVALID",
      });
    }
    out[id] = value;
  }
  return out;
}
