#!/usr/bin/env node
// Stage the build context of bottle/sidecars: Dockerfile, extra-ca.pem, the sidecar bins
// bundled when the CLI was built (bin/<name>/main.mjs + chunks, see bundle.mjs) and, on the
// offline base, the host's Node 20 binary.
//   node stage.mjs --out DIR [--extra-ca FILE] [--base offline|registry]
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseStageArgs, resetDir, stageDir, stageDockerfile, stageExtraCa, stageNode } from "../stage-lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const { out, extraCa, base } = parseStageArgs();

resetDir(out);
stageDockerfile(path.join(here, "Dockerfile"), out, base);
if (base === "offline") stageNode(out);
stageExtraCa(out, extraCa);
stageDir(path.join(here, "bin"), out);
process.stdout.write(`staged sidecars context in ${out} (${base} base)\n`);
