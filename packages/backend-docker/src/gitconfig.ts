import { renderAgentGitconfig } from "@bottle/git-gate-render";
import type { BottlePlan } from "@bottle/plan";

export interface AgentGitIdentity {
  name: string;
  email: string;
}

export const DEFAULT_AGENT_IDENTITY: AgentGitIdentity = { name: "bottle agent", email: "agent@bottle.invalid" };

/**
 * Pure: the agent's ~/.gitconfig. The insteadOf rules come from @bottle/git-gate-render
 * (every URL form of every upstream goes to the gate); this adds a default identity and,
 * for a bind-mounted workspace (owned by the host user), marks it safe for git.
 */
export function renderAgentGitconfigFile(plan: BottlePlan, identity: AgentGitIdentity = DEFAULT_AGENT_IDENTITY): string {
  const parts = [`[user]\n\tname = ${quote(identity.name)}\n\temail = ${quote(identity.email)}\n`];
  const first = plan.git.upstreams[0];
  if (first) {
    const gateBase = first.gateUrl.slice(0, first.gateUrl.length - `/${first.name}.git`.length);
    parts.push(renderAgentGitconfig(plan.git.upstreams, gateBase));
  }
  const ws = plan.agent.workspace;
  if (ws?.mode === "mount") parts.push(`[safe]\n\tdirectory = ${quote(ws.guestPath)}\n`);
  return parts.join("");
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}
