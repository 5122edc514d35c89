export { renderCompose, composeDocument, ROLE_LABEL, STATE_DIR_LABEL, SERVICES, BUNDLE_CAPABILITIES, AGENT_CAPABILITIES, type RenderComposeOptions } from "./compose.js";
export { renderAgentGitconfigFile, DEFAULT_AGENT_IDENTITY, type AgentGitIdentity } from "./gitconfig.js";
export { DockerCli, checkEngine, detectCompose, detectComposeCached, parseVersion, type ComposeCommand, type ComposeFlavour } from "./engine.js";
export { DEFAULT_TOOLS, type DockerTools } from "./exec.js";
export { createNetworks, inspectNetwork, removeNetworks, type BottleNetworks, type NetworkInfo } from "./networks.js";
export { launchBottle, preflightLaunch, waitHealthy, type BottleHandle, type LaunchOptions } from "./launch.js";
export { provisionAgent, type ProvisionOptions, type ProvisionReport } from "./provision.js";
export { stopBottle, cleanupOrphans, dumpComposeLogs, type StopOptions, type StopReport, type CleanupOptions, type CleanupReport } from "./teardown.js";
export {
  listBottles,
  logs,
  execInAgent,
  captureInAgent,
  attachAgent,
  reloadBundle,
  doctor,
  assertReady,
  type BottleStatus,
  type ContainerStatus,
  type LogsOptions,
  type ExecOptions,
  type AttachOptions,
  type DoctorCheck,
} from "./status.js";
export type { ProgressEvent, ProgressListener } from "./progress.js";
export { dockerBackend, createDockerBackend, type DockerBackendOptions } from "./backend.js";
export { engineRuntimes, runscCheck } from "./runtimes.js";
export * from "./images/index.js";
export { agentFenceRules, fenceAgentNetwork } from "./fence.js";
