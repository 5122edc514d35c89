export {
  BACKEND_SPEC_VERSION,
  type BackendName,
  type BackendCapabilities,
  type BottleBackend,
  type BottleRef,
  type BottleListing,
  type MachineStatus,
  type LaunchSession,
  type LaunchFacts,
  type ExecRequest,
  type ExecResult,
  type LogsRequest,
  type StopReport,
  type CleanupFilter,
  type CleanupReport,
  type DoctorCheck,
  type DoctorReport,
  type ProgressEvent,
  type ProgressListener,
} from "./contract.js";
export { capabilityProblems, assertSupported, type CapabilityProblem } from "./capabilities.js";
export { openStartRecord, type StartRecord, type StartRecordOptions } from "./start-record.js";
export { startBottle, checkSpecVersion, type StartRequest } from "./start.js";
export { slugOf } from "./ref.js";
export { assertReady } from "./ready.js";
