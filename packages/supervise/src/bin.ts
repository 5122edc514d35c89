#!/usr/bin/env node
import { parseArgs } from "node:util";
import { BottleError, formatBottleError } from "@bottle/errors";
import { startSuperviseServer } from "./server.js";

const USAGE =
  "usage: bottle-supervise [--state /var/lib/bottle/requests] [--listen 0.0.0.0:9100 | --host 0.0.0.0 --port 9100]";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      state: { type: "string", default: "/var/lib/bottle/requests" },
      listen: { type: "string" },
      port: { type: "string", default: "9100" },
      host: { type: "string", default: "0.0.0.0" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let host = values.host;
  let portText = values.port;
  if (values.listen !== undefined) {
    const at = values.listen.lastIndexOf(":");
    host = at < 0 ? host : values.listen.slice(0, at).replace(/^\[|\]$/g, "") || "0.0.0.0";
    portText = values.listen.slice(at + 1);
  }
  const port = Number(portText);
  if (portText === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new BottleError(`Invalid port "${portText}"`, { code: "SUPERVISE_USAGE", hint: USAGE });
  }
  const log = (line: string) => void process.stdout.write(`${line}\n`);
  const running = await startSuperviseServer({ stateDir: values.state, port, host, log });
  log(`supervise: MCP on ${host}:${running.port}/mcp, requests in ${values.state}`);
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
