export { buildProgram, runCli, VERSION } from "./program.js";
export type { Output } from "./output.js";
