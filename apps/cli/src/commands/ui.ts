import { spawn } from "node:child_process";
import type { Command } from "commander";
import { BottleError } from "@bottle/errors";
import type { Output } from "../output.js";

/** Opens `url` in the desktop's browser; failure is fine (the URL is printed). */
function openBrowser(url: string): void {
  const command = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
  try {
    const child = spawn(command, [url], { stdio: "ignore", detached: true });
    child.on("error", () => {});
    child.unref();
  } catch {
    // no opener: the printed URL is enough
  }
}

export function registerUi(program: Command, output: Output): void {
  program
    .command("ui")
    .description("Open the dashboard: every bottle, its live activity, pending requests to approve or deny, routes in force")
    .option("--port <n>", "port on 127.0.0.1 (default: a free one)")
    .option("--no-open", "print the URL only, do not open a browser")
    .addHelpText(
      "after",
      "\nThe dashboard listens on 127.0.0.1 only. The printed URL carries a one-run token; the browser\nthat opens it gets an HttpOnly cookie, and other pages (other origins, other sites) cannot act.\nCtrl-C stops it.\n\nExamples:\n  $ bottle ui\n  $ bottle ui --port 7878 --no-open",
    )
    .action(async (opts: { port?: string; open: boolean }) => {
      const port = opts.port === undefined ? 0 : Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new BottleError(`--port ${opts.port} is not a port`, { code: "CLI_UI_BAD_PORT", hint: "a number 1-65535, or leave it out for a free one" });
      }
      const { startDashboard } = await import("../ui/server.js");
      const dashboard = await startDashboard({ port, log: (line) => output.err(line) });
      output.out(`bottle ui: ${dashboard.url}`);
      output.err("(keep this URL to yourself: it signs a browser in. Ctrl-C stops the dashboard.)");
      if (opts.open) openBrowser(dashboard.url);
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        process.once("SIGINT", done);
        process.once("SIGTERM", done);
      });
      await dashboard.close();
    });
}
