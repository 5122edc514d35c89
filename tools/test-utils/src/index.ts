export * from "./docker.js";
export * from "./smolvm-standin/index.js";
export * from "./upstream.js";
export * from "./demo-world.js";
export * from "./messages-api.js";
export * from "./conformance-world.js";
