#!/usr/bin/env node
import { parseArgs } from "node:util";
import { BottleError, formatBottleError } from "@bottle/errors";
import { startSuperviseServer } from "./server.js";

const USAGE = "usage: bottle-supervise [--state /var/lib/bottle/requests] [--port 9100] [--host 0.0.0.0]";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      state: { type: "string", default: "/var/lib/bottle/requests" },
      port: { type: "string", default: "9100" },
      host: { type: "string", default: "0.0.0.0" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new BottleError(`Invalid --port "${values.port}"`, { code: "SUPERVISE_USAGE", hint: USAGE });
  }
  const log = (line: string) => void process.stdout.write(`${line}\n`);
  const running = await startSuperviseServer({ stateDir: values.state, port, host: values.host, log });
  log(`supervise: MCP on ${values.host}:${running.port}/mcp, requests in ${values.state}`);
  const stop = () => void running.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error: unknown) => {
  if (BottleError.isInstance(error)) {
    process.stderr.write(`${formatBottleError(error)}\n`);
    process.exit(2);
  }
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
