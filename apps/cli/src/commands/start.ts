import path from "node:path";
import type { Command } from "commander";
import { startBottle } from "@bottle/backend";
import { resolvePlan } from "@bottle/plan";
import { resolveSecrets, retireState, stateDirFor, stateLayout } from "@bottle/state";
import { backendFor } from "../backends.js";
import { loadManifest } from "../manifest-file.js";
import { planForStart } from "../preflight.js";
import type { Output } from "../output.js";
import { progressPrinter } from "../progress.js";
import { buildCliImages } from "../build-images.js";
import { imageTags } from "../images.js";
import { PassExitCode } from "../exit.js";

interface StartOptions {
  file?: string;
  detach?: boolean;
  cwd?: string;
  backend?: "docker" | "smolvm";
  build?: boolean;
  offlineBase?: boolean;
  baseImage?: string;
  json?: boolean;
  verbose?: boolean;
}

export function registerStart(program: Command, output: Output): void {
  program
    .command("start")
    .description("Launch a bottle: networks, sidecar bundle, agent; provision it and attach the agent command")
    .argument("<name>", "bottle name in the manifest")
    .argument("[agentArgs...]", "arguments appended to the agent command (after --)")
    .option("-f, --file <file>", "manifest file (default: ./bottle.json)")
    .option("-d, --detach", "leave the bottle running in the background; attach later with `bottle exec`")
    .option("--cwd <dir>", "workspace folder to give the agent (overrides the manifest's workspace.path)")
    .option("--backend <backend>", "override the backend (docker | smolvm)")
    .option("--no-build", "fail instead of building missing images")
    .option("--offline-base", "when images must be built: on the offline debootstrap base (see `bottle build`)")
    .option("--base-image <image>", "when images must be built: on this Node image")
    .option("--json", "print the started bottle as JSON (with --detach)")
    .option("-v, --verbose", "show build output")
    .addHelpText(
      "after",
      "\nExamples:\n  $ bottle start implementer\n  $ bottle start implementer --detach\n  $ bottle start implementer -- --model opus\n  $ bottle start implementer --cwd ../other-repo -- bash",
    )
    .action(async (name: string, agentArgs: string[], opts: StartOptions) => {
      const progress = progressPrinter(output, { verbose: opts.verbose });
      const { manifest, file, display } = await loadManifest(opts.file);
      // Everything `validate` refuses is refused here, before anything is created.
      const plan = await planForStart(
        manifest,
        name,
        { manifestPath: file, ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.cwd ? { workspace: path.resolve(opts.cwd) } : {}), images: imageTags() },
        display,
      );
      const excluded = plan.agent.workspace?.exclude ?? [];
      if (excluded.length > 0) output.err(`warning: secret file(s) inside the workspace are left out of the agent's copy: ${excluded.join(", ")}`);
      const backend = await backendFor(plan);
      // Secrets first: a missing one is the user's to fix before anything is created.
      const secrets = await resolveSecrets(plan);
      if (opts.build !== false) {
        // every backend runs the images `bottle build` makes (smolvm derives its archives from them)
        await buildCliImages({ offlineBase: opts.offlineBase, baseImage: opts.baseImage, keepExistingBase: true }, progress);
      }
      const layout = stateLayout(stateDirFor(plan.slug));
      const workspace = opts.cwd ? { workspace: path.resolve(opts.cwd) } : {};

      const abort = new AbortController();
      const onSignal = () => abort.abort(new Error("interrupted"));
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      let running = plan;
      try {
        // the shared start (@bottle/backend): capabilities, start lock, state dir, metadata, launch
        running = await startBottle(backend, {
          plan,
          planFor: (facts) => resolvePlan(manifest, plan.bottle, { manifestPath: file, backend: plan.backend, images: imageTags(), ...workspace, ...facts }),
          layout,
          secrets,
          holderPid: opts.detach ? null : process.pid,
          onProgress: progress,
          signal: abort.signal,
        });
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }

      if (opts.detach) {
        const summary = { slug: plan.slug, bottle: plan.bottle, stateDir: layout.root, agent: plan.machines.agent, bundle: plan.machines.bundle };
        if (opts.json) output.json(summary);
        else output.out(`bottle ${plan.bottle} is running (slug ${plan.slug}).\n  attach: bottle exec ${plan.slug} -- ${plan.agent.command.join(" ")}\n  stop:   bottle stop ${plan.slug}`);
        return;
      }
      let exitCode = 0;
      // A closed terminal (the usual way an attached session ends) makes writes to it fail;
      // the bottle must still be stopped, so such errors are not fatal from here on.
      for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
      try {
        exitCode = await backend.attach(running, [...running.agent.command, ...agentArgs]);
      } finally {
        progress({ step: "stop", message: "agent exited: stopping the bottle" });
        await backend.stop(running, layout, progress);
        await retireState(layout.root);
      }
      if (exitCode !== 0) throw new PassExitCode(exitCode);
    });
}
