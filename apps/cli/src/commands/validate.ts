import type { Command } from "commander";
import { loadManifest } from "../manifest-file.js";
import type { Output } from "../output.js";

export function registerValidate(program: Command, output: Output): void {
  program
    .command("validate")
    .description("Check bottle.json and report every problem with its path and a hint")
    .option("-f, --file <file>", "manifest file (default: ./bottle.json)")
    .option("--json", "print the result as JSON")
    .addHelpText("after", "\nExamples:\n  $ bottle validate\n  $ bottle validate -f ci/bottle.json --json")
    .action(async (opts: { file?: string; json?: boolean }) => {
      const { manifest, file } = await loadManifest(opts.file);
      const names = Object.keys(manifest.bottles);
      if (opts.json) output.json({ ok: true, file, bottles: names });
      else output.out(`${file}: ok (${names.length} bottle${names.length === 1 ? "" : "s"}: ${names.join(", ")})`);
    });
}
