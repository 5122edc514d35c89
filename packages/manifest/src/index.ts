export * from "./schema.js";
export { parseManifest, ManifestError, looksLikeSecret, isSshUrl, closest, type ManifestProblem, type ParseManifestOptions } from "./parse.js";
export { manifestJsonSchema } from "./json-schema.js";
