#!/usr/bin/env node
// Stage the build context of bottle/agent: Dockerfile, the host's Node 20 binary and npm,
// and extra-ca.pem (empty unless --extra-ca is given).
//   node images/agent/stage.mjs --out DIR [--extra-ca FILE]
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseStageArgs, resetDir, stageExtraCa, stageFile, stageNode, stageNpm } from "../stage-lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const { out, extraCa } = parseStageArgs();

resetDir(out);
stageFile(path.join(here, "Dockerfile"), out);
stageNode(out);
stageNpm(out);
stageExtraCa(out, extraCa);
process.stdout.write(`staged agent context in ${out}\n`);
