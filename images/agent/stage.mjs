#!/usr/bin/env node
// Stage the build context of bottle/agent: Dockerfile, extra-ca.pem (empty unless
// --extra-ca is given) and, on the offline base, the host's Node 20 binary and npm.
//   node stage.mjs --out DIR [--extra-ca FILE] [--base offline|registry]
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseStageArgs, resetDir, stageDockerfile, stageExtraCa, stageNode, stageNpm } from "../stage-lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const { out, extraCa, base } = parseStageArgs();

resetDir(out);
stageDockerfile(path.join(here, "Dockerfile"), out, base);
if (base === "offline") {
  stageNode(out);
  stageNpm(out);
}
stageExtraCa(out, extraCa);
process.stdout.write(`staged agent context in ${out} (${base} base)\n`);
