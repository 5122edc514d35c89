export type * from "./types.js";
export { resolvePlan, bottleSlug, type ResolvePlanOptions } from "./resolve.js";
export { mergeExtraHosts, insteadOfForms, gitTransport } from "./git.js";
export * from "./constants.js";
export { secretFilesInWorkspace, tarExcludes, type WorkspaceSecretFile } from "./workspace-secrets.js";
