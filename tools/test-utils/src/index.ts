export * from "./docker.js";
export * from "./smolvm-standin/index.js";
