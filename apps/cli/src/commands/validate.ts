import type { Command } from "commander";
import { ManifestError } from "@bottle/manifest";
import { resolvePlan } from "@bottle/plan";
import { loadManifest } from "../manifest-file.js";
import { manifestCheck } from "../preflight.js";
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
      const { problems, hostProblems } = await manifestCheck(manifest, file);
      if (problems.length > 0) throw new ManifestError(display, problems);
      const names = Object.keys(manifest.bottles);
      // Missing host files are this machine's business: warned here, refused by start.
      const warnings: Array<{ path: string; message: string; hint?: string; refusedByStart: boolean }> = hostProblems.map((p) => ({
        path: p.path,
        message: p.message,
        ...(p.hint ? { hint: p.hint } : {}),
        refusedByStart: true,
      }));
      // Secret files inside a copied workspace are left out of the agent's copy (a mount is refused above).
      for (const name of names) {
        const excluded = resolvePlan(manifest, name, { manifestPath: file }).agent.workspace?.exclude ?? [];
        if (excluded.length > 0) {
          warnings.push({
            path: `bottles.${name}.workspace`,
            message: `secret file(s) inside the workspace are left out of the agent's copy: ${excluded.join(", ")}`,
            hint: "move them outside the workspace to silence this",
            refusedByStart: false,
          });
        }
      }
      if (opts.json) return output.json({ ok: true, file, bottles: names, warnings });
      for (const w of warnings) output.err(`warning: ${w.path}: ${w.message}${w.refusedByStart ? " (start will refuse this here)" : w.hint ? ` (${w.hint})` : ""}`);
      output.out(`${file}: ok (${names.length} bottle${names.length === 1 ? "" : "s"}: ${names.join(", ")})`);
    });
}
