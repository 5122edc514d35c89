import { parseArgs } from "node:util";
import { BottleError, formatBottleError } from "@bottle/errors";
import { startEgressProxy } from "./proxy.js";

const USAGE = `usage: bottle-egress --listen HOST:PORT --routes FILE --ca-cert FILE --ca-key FILE
                     [--secrets FILE] [--audit FILE] [--upstream-proxy URL] [--upstream-ca FILE]`;

export interface EarlySignals {
  /** Set by the bin's handlers, installed before this module (and its dependencies) loaded. */
  reloadWanted: boolean;
  stopWanted: boolean;
  proxy?: { reload(): Promise<void>; close(): Promise<void> };
}

export async function main(signals: EarlySignals): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: "string", default: "0.0.0.0:8080" },
      routes: { type: "string" },
      secrets: { type: "string" },
      "ca-cert": { type: "string" },
      "ca-key": { type: "string" },
      "upstream-proxy": { type: "string" },
      "upstream-ca": { type: "string" },
      audit: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return;
  }
  const listen = /^(.*):(\d+)$/.exec(values.listen);
  if (!listen || !values.routes || !values["ca-cert"] || !values["ca-key"]) {
    throw new BottleError("Missing or malformed arguments.", { code: "EGRESS_USAGE", hint: USAGE });
  }
  const proxy = await startEgressProxy({
    host: listen[1]!.replace(/^\[|\]$/g, ""),
    port: Number(listen[2]),
    routesFile: values.routes,
    caCertFile: values["ca-cert"],
    caKeyFile: values["ca-key"],
    ...(values.secrets ? { secretsFile: values.secrets } : {}),
    ...(values.audit ? { auditFile: values.audit } : {}),
    ...(values["upstream-proxy"] ? { upstreamProxy: values["upstream-proxy"] } : {}),
    ...(values["upstream-ca"] ? { upstreamCaFile: values["upstream-ca"] } : {}),
  });
  process.stderr.write(`egress: listening on ${listen[1]}:${proxy.port}\n`);
  signals.proxy = proxy;
  // Reload errors are logged by the proxy, which keeps its previous config.
  if (signals.reloadWanted && !signals.stopWanted) await proxy.reload().catch(() => {});
}

/** The message for a fatal start-up error: a BottleError's text and hint, else the stack. */
export function describeFatal(err: unknown): { text: string; exitCode: number } {
  if (BottleError.isInstance(err)) return { text: `bottle-egress: ${formatBottleError(err)}\n`, exitCode: 2 };
  return { text: `bottle-egress: ${(err as Error)?.stack ?? String(err)}\n`, exitCode: 1 };
}
