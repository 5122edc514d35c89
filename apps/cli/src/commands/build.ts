import type { Command } from "commander";
import { BottleError } from "@bottle/errors";
import { buildCliImages } from "../build-images.js";
import type { Output } from "../output.js";
import { progressPrinter } from "../progress.js";

export function registerBuild(program: Command, output: Output): void {
  program
    .command("build")
    .description("Build the sidecars and agent images of this CLI version (skipped when their inputs are unchanged)")
    .option("--offline-base", "build on the offline debootstrap base (no image registry; needs root and debootstrap the first time)")
    .option("--base-image <image>", "the Node image to build on (default: node:22-bookworm-slim from your registry)")
    .option("--force", "rebuild even when up to date")
    .option("--extra-ca <pem>", "CA bundle trusted during builds (default: $BOTTLE_EXTRA_CA_BUNDLE, else $NODE_EXTRA_CA_CERTS)")
    .option("--build-arg <k=v...>", "build args, e.g. PIPELOCK_VERSION=… PIPELOCK_SHA256=…")
    .option("--json", "print the built images as JSON")
    .option("-v, --verbose", "show docker build output")
    .addHelpText(
      "after",
      "\nImages are tagged bottle/<name>:<CLI version>-<recipe hash>, so CLI versions never share them." +
        "\nBOTTLE_OFFLINE_BASE=1 has the effect of --offline-base." +
        "\n\nExamples:\n  $ bottle build\n  $ bottle build --offline-base\n  $ bottle build --base-image registry.example.com/library/node:22-bookworm-slim --extra-ca corp-ca.pem --verbose",
    )
    .action(async (opts: { offlineBase?: boolean; baseImage?: string; force?: boolean; extraCa?: string; buildArg?: string[]; json?: boolean; verbose?: boolean }) => {
      if (opts.offlineBase && opts.baseImage) {
        throw new BottleError("--offline-base and --base-image exclude each other", { code: "CLI_BAD_OPTIONS", hint: "pick one base" });
      }
      const progress = progressPrinter(output, { verbose: opts.verbose });
      const buildArgs = Object.fromEntries((opts.buildArg ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
      const images = await buildCliImages({ ...opts, buildArgs }, progress);
      if (opts.json) return output.json(images);
      output.out(images.map((i) => `${i.tag}  ${(i.sizeBytes / 1e6).toFixed(0)} MB  ${i.built ? `built in ${(i.durationMs / 1000).toFixed(1)}s` : "up to date"}`).join("\n"));
    });
}
