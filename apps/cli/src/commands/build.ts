import type { Command } from "commander";
import type { Output } from "../output.js";
import { progressPrinter } from "../progress.js";
import { buildCaBundle, repoRoot } from "../repo.js";

export function registerBuild(program: Command, output: Output): void {
  program
    .command("build")
    .description("Build the base, sidecars and agent images offline (skipped when their inputs are unchanged)")
    .option("--force", "rebuild even when up to date")
    .option("--extra-ca <pem>", "CA bundle trusted during builds (default: $BOTTLE_EXTRA_CA_BUNDLE, else $NODE_EXTRA_CA_CERTS)")
    .option("--build-arg <k=v...>", "build args, e.g. PIPELOCK_VERSION=… PIPELOCK_SHA256=…")
    .option("--json", "print the built images as JSON")
    .option("-v, --verbose", "show docker build output")
    .addHelpText("after", "\nExamples:\n  $ bottle build\n  $ bottle build --extra-ca /etc/ssl/certs/ca-certificates.crt --verbose")
    .action(async (opts: { force?: boolean; extraCa?: string; buildArg?: string[]; json?: boolean; verbose?: boolean }) => {
      const progress = progressPrinter(output, { verbose: opts.verbose });
      const { buildImages, ensureBaseImage } = await import("@bottle/backend-docker");
      const root = repoRoot();
      const buildCa = buildCaBundle(opts.extraCa);
      await ensureBaseImage({ repoRoot: root, onProgress: progress });
      const buildArgs = Object.fromEntries((opts.buildArg ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
      const images = await buildImages({ repoRoot: root, onProgress: progress, ...(opts.force ? { force: true } : {}), ...(buildCa ? { extraCaBundle: buildCa } : {}), buildArgs });
      if (opts.json) return output.json(images);
      output.out(images.map((i) => `${i.tag}  ${(i.sizeBytes / 1e6).toFixed(0)} MB  ${i.built ? `built in ${(i.durationMs / 1000).toFixed(1)}s` : "up to date"}`).join("\n"));
    });
}
