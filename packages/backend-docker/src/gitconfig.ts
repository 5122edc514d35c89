import type { BottlePlan } from "@bottle/plan";

export interface AgentGitIdentity {
  name: string;
  email: string;
}

export const DEFAULT_AGENT_IDENTITY: AgentGitIdentity = { name: "bottle agent", email: "agent@bottle.invalid" };

/**
 * Pure: the agent's ~/.gitconfig. Every URL form of every upstream is rewritten to the
 * gate (`insteadOf`), so clones and pushes can only go through git-gate. A bind-mounted
 * workspace belongs to the host user, so it is marked safe for git.
 */
export function renderAgentGitconfig(plan: BottlePlan, identity: AgentGitIdentity = DEFAULT_AGENT_IDENTITY): string {
  const lines = ["[user]", `\tname = ${quote(identity.name)}`, `\temail = ${quote(identity.email)}`];
  for (const upstream of plan.git.upstreams) {
    lines.push(`[url ${quote(upstream.gateUrl, true)}]`);
    for (const form of upstream.insteadOf) lines.push(`\tinsteadOf = ${quote(form)}`);
  }
  const ws = plan.agent.workspace;
  if (ws?.mode === "mount") lines.push("[safe]", `\tdirectory = ${quote(ws.guestPath)}`);
  return `${lines.join("\n")}\n`;
}

/** git-config quoting: section subsections are always quoted; values only when needed. */
function quote(value: string, always = false): string {
  const escaped = value.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  return always || /^\s|\s$|[;#"\\]/.test(value) ? `"${escaped}"` : value;
}
