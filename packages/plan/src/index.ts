export type * from "./types.js";
export { resolvePlan, bottleSlug, type ResolvePlanOptions } from "./resolve.js";
export { mergeExtraHosts, insteadOfForms, gitTransport } from "./git.js";
export * from "./constants.js";
export {
  ANTHROPIC_API_ORIGIN,
  CLAUDE_CODE_SANDBOX_ENV,
  MODEL_API_PATHS,
  MODEL_CREDENTIAL_HEADERS,
  MODEL_ENV_VAR,
  MODEL_PLACEHOLDERS,
  MODEL_ROUTE_ID,
  MODEL_SECRET_ID,
  planModel,
} from "./model.js";
export { renderClaudeCodeState, CLAUDE_STATE_MERGE_SCRIPT } from "./claude-code.js";
export { secretFilesInWorkspace, tarExcludes, type WorkspaceSecretFile } from "./workspace-secrets.js";
