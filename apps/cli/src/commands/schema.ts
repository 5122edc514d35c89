import type { Command } from "commander";
import { manifestJsonSchema } from "@bottle/manifest";
import type { Output } from "../output.js";

export function registerSchema(program: Command, output: Output): void {
  program
    .command("schema")
    .description("Print the JSON Schema of bottle.json (point \"$schema\" at it for editor completion)")
    .addHelpText("after", "\nExample:\n  $ bottle schema > bottle.schema.json")
    .action(() => output.json(manifestJsonSchema()));
}
