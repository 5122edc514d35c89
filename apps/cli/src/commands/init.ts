import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { BottleError } from "@bottle/errors";
import { manifestJsonSchema, parseManifest } from "@bottle/manifest";
import { initTemplate, type InitAuth } from "../init-template.js";
import type { Output } from "../output.js";

const SCHEMA_FILE = "bottle.schema.json";

interface InitOptions {
  auth: string;
  name: string;
  force?: boolean;
  json?: boolean;
}

export function registerInit(program: Command, output: Output): void {
  program
    .command("init")
    .description("Write a starter bottle.json (and its JSON Schema) into the current folder for Claude Code")
    .option("--auth <kind>", "api-key (ANTHROPIC_API_KEY) or subscription (CLAUDE_CODE_OAUTH_TOKEN)", "api-key")
    .option("--name <bottle>", "name of the bottle", "claude")
    .option("--force", "overwrite an existing bottle.json")
    .option("--json", "print what was written as JSON")
    .addHelpText("after", "\nExamples:\n  $ bottle init\n  $ bottle init --auth subscription --name dev")
    .action(async (opts: InitOptions) => {
      if (opts.auth !== "api-key" && opts.auth !== "subscription") {
        throw new BottleError(`--auth must be api-key or subscription, not "${opts.auth}"`, { code: "CLI_BAD_OPTIONS", hint: "bottle init --auth subscription" });
      }
      const dir = process.cwd();
      const file = path.join(dir, "bottle.json");
      if (existsSync(file) && !opts.force) {
        throw new BottleError(`${file} exists already`, { code: "CLI_INIT_EXISTS", hint: "edit it, or pass --force to replace it" });
      }
      const template = initTemplate({ name: opts.name, auth: opts.auth as InitAuth, schema: `./${SCHEMA_FILE}` });
      const text = `${JSON.stringify(template.manifest, null, 2)}\n`;
      parseManifest(text, { file: "bottle.json" }); // a bad --name fails here, before anything is written
      await writeFile(path.join(dir, SCHEMA_FILE), `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`);
      await writeFile(file, text);
      const summary = { files: [file, path.join(dir, SCHEMA_FILE)], bottle: opts.name, secretEnv: template.secretEnv };
      if (opts.json) return output.json(summary);
      output.out(
        [
          `wrote ${file} (bottle "${opts.name}") and ${SCHEMA_FILE} (editor completion)`,
          "",
          `Export ${template.obtain} on this host; egress injects it, the agent never sees it:`,
          `  export ${template.secretEnv}=…`,
          "",
          "Then:",
          "  bottle validate",
          "  bottle build              # once per CLI version (--offline-base without a registry)",
          `  bottle start ${opts.name}`,
        ].join("\n"),
      );
    });
}
