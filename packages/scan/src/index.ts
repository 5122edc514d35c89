export {
  createScanner,
  formatFindings,
  sortFindings,
  isBinary,
  KNOWN_SECRET_RULE,
  type Finding,
  type Scanner,
  type ScannerOptions,
  type ScanBatch,
  type TextItem,
} from "./scanner.js";
export {
  createKnownSecretMatcher,
  MIN_KNOWN_SECRET_LENGTH,
  type KnownSecretMatcher,
  type KnownSecretMatch,
  type KnownSecretEncoding,
} from "./known-secrets.js";
export { scanGitRevisions, COMMIT_MESSAGE_PATH, type GitScanOptions, type GitScanResult } from "./git.js";
export { scanFiles, type FileScanResult } from "./files.js";
export { loadKnownSecrets } from "./secrets-file.js";
