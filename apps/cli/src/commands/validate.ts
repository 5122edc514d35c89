import type { Command } from "commander";
import { ManifestError } from "@bottle/manifest";
import { resolvePlan } from "@bottle/plan";
import { loadManifest } from "../manifest-file.js";
import { manifestProblems } from "../preflight.js";
import type { Output } from "../output.js";

export function registerValidate(program: Command, output: Output): void {
  program
    .command("validate")
    .description("Check bottle.json and report every problem with its path and a hint: everything `start` would refuse")
    .option("-f, --file <file>", "manifest file (default: ./bottle.json)")
    .option("--json", "print the result as JSON")
    .addHelpText("after", "\nExamples:\n  $ bottle validate\n  $ bottle validate -f ci/bottle.json --json")
    .action(async (opts: { file?: string; json?: boolean }) => {
      const { manifest, file, display } = await loadManifest(opts.file);
      // Plans every bottle and renders its bundle config in memory, as start would.
      const problems = await manifestProblems(manifest, file);
      if (problems.length > 0) throw new ManifestError(display, problems);
      const names = Object.keys(manifest.bottles);
      // Planning refuses what start would refuse (e.g. a secret file in a mounted workspace).
      const warnings: string[] = [];
      for (const name of names) {
        const plan = resolvePlan(manifest, name, { manifestPath: file });
        const excluded = plan.agent.workspace?.exclude ?? [];
        if (excluded.length > 0) {
          warnings.push(`${name}: secret file(s) inside the workspace are left out of the agent's copy: ${excluded.join(", ")} (move them outside the workspace to silence this)`);
        }
      }
      if (opts.json) output.json({ ok: true, file, bottles: names, warnings });
      else {
        for (const warning of warnings) output.err(`warning: ${warning}`);
        output.out(`${file}: ok (${names.length} bottle${names.length === 1 ? "" : "s"}: ${names.join(", ")})`);
      }
    });
}
