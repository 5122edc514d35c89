#!/usr/bin/env node
import { parseArgs } from "node:util";
import { BottleError, formatBottleError } from "@bottle/errors";
import { startEgressProxy } from "./proxy.js";

const USAGE = `usage: bottle-egress --listen HOST:PORT --routes FILE --ca-cert FILE --ca-key FILE
                     [--secrets FILE] [--audit FILE] [--upstream-proxy URL] [--upstream-ca FILE]`;

async function main(): Promise<void> {
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
  // Reload errors are logged by the proxy, which keeps its previous config.
  process.on("SIGHUP", () => void proxy.reload().catch(() => {}));
  const stop = () => void proxy.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err: unknown) => {
  if (BottleError.isInstance(err)) {
    process.stderr.write(`bottle-egress: ${formatBottleError(err)}\n`);
    process.exit(2);
  }
  process.stderr.write(`bottle-egress: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
