export * from "./schema.js";
export { parseManifest, ManifestError, looksLikeSecret, isSshUrl, closest, formatPath, MODEL_ENV_KEYS, type ManifestProblem, type ParseManifestOptions } from "./parse.js";
export { manifestJsonSchema } from "./json-schema.js";
export { isHostPattern, isExtraHostName, HOST_PATTERN_DESCRIPTION } from "./hosts.js";
export { findJsonSyntaxError, describeJsonSyntaxError, type JsonSyntaxError } from "./json-syntax.js";
