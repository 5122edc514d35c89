export * from "./docker.js";
