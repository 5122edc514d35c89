import type { GitUpstreamPlan } from "@bottle/plan";
import { repoUrlForms } from "./urls.js";

function quoteValue(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * The gate URL of an upstream for a gate base address: `git://git-gate` on docker,
 * `git://<ip>:9418` on smolvm.
 */
export function gateUrl(gateBase: string, name: string): string {
  return `${gateBase.replace(/\/+$/, "")}/${name}.git`;
}

/**
 * The agent's gitconfig: `url.<gate>.insteadOf` for every form of each upstream URL (as
 * written, ssh://, scp-like and https, with and without `.git`, plus the plan's own
 * `insteadOf` list), so whatever the agent types goes to the gate and never out.
 */
export function renderAgentGitconfig(
  upstreams: Pick<GitUpstreamPlan, "name" | "url" | "insteadOf">[],
  gateBase: string,
): string {
  const sections = upstreams.map((up) => {
    const forms = [...new Set([...repoUrlForms(up.url), ...(up.insteadOf ?? [])])];
    const lines = forms.map((form) => `\tinsteadOf = ${quoteValue(form)}`);
    return `[url ${quoteValue(gateUrl(gateBase, up.name))}]\n${lines.join("\n")}\n`;
  });
  return `# Rendered by @bottle/git-gate-render: every git upstream goes through the bottle's git gate.\n${sections.join("")}`;
}
