export { stateRoot, stateLayout, type StateLayout } from "./layout.js";
export { writeFileAtomic, mkdirPrivate } from "./fs.js";
export { resolveSecrets, type SecretReadContext } from "./secrets.js";
export { writeMetadata, readMetadata, listMetadata, retireState, removeState, type BottleMetadata } from "./metadata.js";
export {
  prepareStateDir,
  ensureBottleCa,
  writeBundleFiles,
  writeRoutes,
  readApprovedRoutes,
  addApprovedRoute,
  type BundleFilesInput,
} from "./bundle-files.js";
