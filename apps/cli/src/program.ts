import { createRequire } from "node:module";
import { Command, CommanderError } from "commander";
import { BottleError, formatBottleError } from "@bottle/errors";
import { registerPlan } from "./commands/plan.js";
import { registerSchema } from "./commands/schema.js";
import { registerValidate } from "./commands/validate.js";
import { registerStart } from "./commands/start.js";
import { registerLifecycle } from "./commands/lifecycle.js";
import { registerRequests } from "./commands/requests.js";
import { registerAudit } from "./commands/audit.js";
import { registerUi } from "./commands/ui.js";
import { registerBuild } from "./commands/build.js";
import { registerCa } from "./commands/ca.js";
import { registerInit } from "./commands/init.js";
import { PassExitCode } from "./exit.js";
import { processOutput, type Output } from "./output.js";

/** The published version (package.json, bumped by changesets); also part of the image tags. */
export const VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string }).version;

export function buildProgram(output: Output = processOutput): Command {
  const program = new Command("bottle")
    .description("Run AI coding agents in sandboxes whose every way out is controlled by you.")
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) })
    .exitOverride();
  program.addHelpText(
    "after",
    "\nExamples:\n  $ bottle init\n  $ bottle validate\n  $ bottle plan implementer --json\n  $ bottle start implementer\n\nThe manifest is ./bottle.json unless -f is given.",
  );
  registerInit(program, output);
  registerValidate(program, output);
  registerPlan(program, output);
  registerSchema(program, output);
  registerBuild(program, output);
  registerStart(program, output);
  registerLifecycle(program, output);
  registerRequests(program, output);
  registerAudit(program, output);
  registerUi(program, output);
  registerCa(program, output);
  for (const command of program.commands) command.exitOverride().configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) });
  return program;
}

/**
 * The CLI's one error boundary. A user's mistake (BottleError, bad arguments) prints
 * its message and hint and yields 2; anything else is a bug: stack trace, 1.
 */
export async function runCli(argv: string[], output: Output = processOutput): Promise<number> {
  try {
    await buildProgram(output).parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof PassExitCode) return error.code;
    if (error instanceof CommanderError) {
      // help and version print through configureOutput and end with code 0
      return error.exitCode === 0 ? 0 : 2;
    }
    if (BottleError.isInstance(error)) {
      output.err(`error: ${formatBottleError(error)}`);
      const tail = (error.details as { tail?: unknown } | undefined)?.tail;
      if (Array.isArray(tail) || typeof tail === "string") {
        output.err(`last output:\n  ${(Array.isArray(tail) ? tail : tail.split("\n")).join("\n  ")}`);
      }
      return 2;
    }
    output.err(`bottle hit a bug; please report it with this trace:\n${(error as Error)?.stack ?? String(error)}`);
    return 1;
  }
}
