export * from "./schema.js";
export { parseManifest, ManifestError, looksLikeSecret, isSshUrl, closest, MODEL_ENV_KEYS, type ManifestProblem, type ParseManifestOptions } from "./parse.js";
export { manifestJsonSchema } from "./json-schema.js";
