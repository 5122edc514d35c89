export { stateRoot, stateDirFor, stateLayout, expandHome, type StateLayout } from "./layout.js";
export { writeFileAtomic, mkdirPrivate } from "./fs.js";
export { resolveSecrets, writeSecretFiles, type SecretReadContext } from "./secrets.js";
export { writeMetadata, readMetadata, listMetadata, retireState, isReady, bottlePhase, type BottleMetadata } from "./metadata.js";
export { acquireStartLock, readStartLock, startLockPath, pidAlive, type StartLock, type StartLockHolder, type StartLockOptions } from "./start-lock.js";
export {
  prepareStateDir,
  ensureBottleCa,
  writeBundleFiles,
  checkBundleConfig,
  writeRoutes,
  readApprovedRoutes,
  addApprovedRoute,
  mergeApprovedRoute,
  removeApprovedRoute,
  type BundleFilesInput,
} from "./bundle-files.js";
