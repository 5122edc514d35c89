#!/usr/bin/env node
// Signal handlers first, then the proxy and its dependencies (secretlint, the X.509 stack)
// load: the supervisor may forward SIGHUP while they load, and Node's default for SIGHUP
// would end the process.
import type { EarlySignals } from "./cli-main.js";

const signals: EarlySignals = { reloadWanted: false, stopWanted: false };
process.on("SIGHUP", () => {
  if (signals.proxy) void signals.proxy.reload().catch(() => {});
  else signals.reloadWanted = true;
});
const stop = () => {
  if (signals.proxy) void signals.proxy.close().then(() => process.exit(0));
  else signals.stopWanted = true;
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

const { main, describeFatal } = await import("./cli-main.js");
try {
  await main(signals);
  if (signals.stopWanted) stop();
} catch (error) {
  const fatal = describeFatal(error);
  process.stderr.write(fatal.text);
  process.exit(fatal.exitCode);
}
