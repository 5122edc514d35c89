export { stateRoot, stateDirFor, stateLayout, expandHome, type StateLayout } from "./layout.js";
export { writeFileAtomic, mkdirPrivate } from "./fs.js";
export { resolveSecrets, writeSecretFiles, type SecretReadContext } from "./secrets.js";
export { writeMetadata, readMetadata, listMetadata, retireState, type BottleMetadata } from "./metadata.js";
export {
  prepareStateDir,
  ensureBottleCa,
  writeBundleFiles,
  writeRoutes,
  readApprovedRoutes,
  addApprovedRoute,
  removeApprovedRoute,
  type BundleFilesInput,
} from "./bundle-files.js";
