export { parseSupervisorConfig, readSupervisorConfig } from "./config.js";
export type { SupervisedDaemon, SupervisorConfig } from "./config.js";
export { FORWARDABLE_SIGNALS, startSupervisor } from "./supervisor.js";
export type { DaemonState, DaemonStatus, Supervisor, SupervisorOptions, SupervisorStatus } from "./supervisor.js";
export { fetchHealth, requestSignal } from "./control.js";
export type { ControlResponse } from "./control.js";
export { findReaper, reaperCommand } from "./reaper.js";
