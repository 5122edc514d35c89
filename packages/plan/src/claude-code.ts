import type { BottlePlan } from "./types.js";

/**
 * Claude Code's own state file (`~/.claude.json`) for a first start without dialogs that a
 * sandbox makes pointless: onboarding (theme, connectivity check) done, the workspace
 * trusted, and the placeholder API key approved. Claude Code remembers an approved key by
 * its last 20 characters (`customApiKeyResponses.approved`). Pure: the JSON text to merge
 * into the file (provisioning keeps keys already there, e.g. MCP servers).
 */
export function renderClaudeCodeState(plan: Pick<BottlePlan, "agent">): string {
  const model = plan.agent.model;
  const state = {
    hasCompletedOnboarding: true,
    theme: "dark",
    ...(model?.auth === "api-key" ? { customApiKeyResponses: { approved: [model.placeholder.slice(-20)], rejected: [] } } : {}),
    projects: { [plan.agent.workdir]: { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true } },
  };
  return `${JSON.stringify(state, null, 2)}\n`;
}

/**
 * Shell script (run as the agent user, seed JSON on stdin, file path in "$1") that merges
 * the seed into Claude Code's state file: top-level keys from the seed win, `projects`
 * entries are merged per folder. Falls back to writing the seed when there is no node.
 */
export const CLAUDE_STATE_MERGE_SCRIPT = `set -e
umask 077
if [ -s "$1" ] && command -v node >/dev/null 2>&1; then
  node -e '
const fs = require("fs");
const file = process.argv[1];
const seed = JSON.parse(fs.readFileSync(0, "utf8"));
let current = {};
try { current = JSON.parse(fs.readFileSync(file, "utf8")); } catch {}
const projects = { ...current.projects };
for (const [dir, value] of Object.entries(seed.projects || {})) projects[dir] = { ...projects[dir], ...value };
fs.writeFileSync(file + ".tmp", JSON.stringify({ ...current, ...seed, projects }, null, 2) + "\\n", { mode: 0o600 });
fs.renameSync(file + ".tmp", file);
' "$1"
else
  mkdir -p "$(dirname "$1")"; cat > "$1"; chmod 0600 "$1"
fi
`;
