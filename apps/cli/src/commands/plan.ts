import type { Command } from "commander";
import { resolvePlan, type BottlePlan } from "@bottle/plan";
import { loadManifest } from "../manifest-file.js";
import type { Output } from "../output.js";
import { imageTags } from "../images.js";

export function registerPlan(program: Command, output: Output): void {
  program
    .command("plan")
    .description("Resolve a bottle into its plan: networks, proxy chain, routes, git upstreams, agent env (no secret values)")
    .argument("<name>", "bottle name in the manifest")
    .option("-f, --file <file>", "manifest file (default: ./bottle.json)")
    .option("--backend <backend>", "override the backend (docker | smolvm)")
    .option("--json", "print the full plan as JSON (deterministic)")
    .addHelpText("after", "\nExamples:\n  $ bottle plan implementer\n  $ bottle plan implementer --json | jq .routes")
    .action(async (name: string, opts: { file?: string; json?: boolean; backend?: "docker" | "smolvm" }) => {
      const { manifest, file } = await loadManifest(opts.file);
      const plan = resolvePlan(manifest, name, { manifestPath: file, ...(opts.backend ? { backend: opts.backend } : {}), images: imageTags() });
      if (opts.json) output.json(plan);
      else output.out(describePlan(plan));
    });
}

export function describePlan(plan: BottlePlan): string {
  const lines = [
    `bottle ${plan.bottle} (slug ${plan.slug}, backend ${plan.backend})`,
    `  proxy chain: ${plan.proxyChain.map((h) => h.name).join(" → ")}`,
    `  networks:    ${plan.networks.internal} (internal), ${plan.networks.egress} (egress)`,
    `  daemons:     ${plan.bundle.daemons.map((d) => d.name).join(", ")}`,
    ...(plan.agent.model
      ? [
          `  model:       ${plan.agent.model.auth}${plan.agent.model.baseUrl ? ` via ${plan.agent.model.baseUrl}` : ""}; the agent holds a placeholder in ${plan.agent.model.envVar}, egress injects the real one`,
        ]
      : []),
    `  routes:      ${plan.routes.length === 0 ? "none (deny all)" : ""}`,
    ...plan.routes.map(
      (r) =>
        `    ${r.host}:${r.ports.join(",")} ${r.methods.length ? r.methods.join(",") : "any method"} ${r.paths.length ? r.paths.join(",") : "any path"}` +
        `${r.inject.length ? ` inject ${r.inject.map((i) => i.header).join(",")}` : ""}${r.passthrough ? " passthrough" : ""}${r.scan ? (r.onFinding === "redact" ? " redact-findings" : "") : " no-scan"}`,
    ),
    `  git:         ${plan.git.upstreams.length === 0 ? "none" : ""}`,
    ...plan.git.upstreams.map((u) => `    ${u.name}: ${u.url} → ${u.gateUrl}${u.protectedBranches.length ? ` (protected: ${u.protectedBranches.join(", ")})` : ""}`),
    `  supervise:   ${plan.supervise.enabled ? plan.supervise.url : "off"}`,
    `  secrets:     ${plan.secrets.map((s) => `${s.id} ← ${"env" in s.source ? `$${s.source.env}` : s.source.file}`).join("; ") || "none"}`,
  ];
  return lines.join("\n");
}
