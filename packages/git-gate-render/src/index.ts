export {
  renderGitGate,
  renderKnownHosts,
  mergeExtraHosts,
  type GitGateInput,
  type GitGateOptions,
  type GitGateRender,
  type RenderedFile,
} from "./render.js";
export { renderAgentGitconfig, gateUrl } from "./gitconfig.js";
export { repoUrlForms, parseRepoUrl, knownHostsHost, type RepoLocation } from "./urls.js";
