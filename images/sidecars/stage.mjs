#!/usr/bin/env node
// Stage the build context of bottle/sidecars: Dockerfile, the host's Node 20 binary,
// extra-ca.pem, and each sidecar bin bundled by esbuild into one self-contained ESM file
// (bin/<name>/main.mjs plus lazily loaded chunks) from the workspace packages' built dist (run `pnpm build` first).
//   node images/sidecars/stage.mjs --out DIR [--extra-ca FILE]
// A bin whose dist is missing is skipped with a warning (set BOTTLE_STAGE_STRICT=1 to fail).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseStageArgs, resetDir, stageExtraCa, stageFile, stageNode, warn } from "../stage-lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..", "..");

/** name on PATH in the image → built entry in the workspace */
export const SIDECAR_BINS = {
  "bottle-supervisor": "packages/supervisor/dist/bin.js",
  "bottle-egress": "packages/egress/dist/bin.js",
  "bottle-scan": "packages/scan/dist/bin.js",
  "bottle-supervise": "packages/supervise/dist/bin.js",
};

// esbuild comes with tsup (a root devDependency); resolve it from there.
function loadEsbuild() {
  const fromTsup = createRequire(createRequire(path.join(repoRoot, "package.json")).resolve("tsup/package.json"));
  return fromTsup("esbuild");
}

const { out, extraCa } = parseStageArgs();
resetDir(out);
stageFile(path.join(here, "Dockerfile"), out);
stageNode(out);
stageExtraCa(out, extraCa);

const esbuild = loadEsbuild();
const binDir = path.join(out, "bin");
mkdirSync(binDir);
// Bundled ESM still meets CommonJS dependencies calling require() on builtins; esbuild's
// shim looks for a `require` in scope, so provide one globally (a top-level `const require`
// could collide with a bundled module's own declaration).
const banner = [
  'import { createRequire as __bottleCreateRequire } from "node:module";',
  "globalThis.require ??= __bottleCreateRequire(import.meta.url);",
].join("\n");

const staged = [];
for (const [name, entry] of Object.entries(SIDECAR_BINS)) {
  const entryPath = path.join(repoRoot, entry);
  if (!existsSync(entryPath)) {
    const message = `${entry} not built; ${name} left out of the image`;
    if (process.env.BOTTLE_STAGE_STRICT === "1") throw new Error(message);
    warn(message);
    continue;
  }
  // One folder per bin, split into chunks: code a bin loads with import() (egress's proxy
  // and its dependencies) stays out of the entry file, so the entry installs its signal
  // handlers before Node has to parse the rest.
  await esbuild.build({
    entryPoints: { main: entryPath },
    outdir: path.join(binDir, name),
    splitting: true,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    banner: { js: banner },
    legalComments: "none",
    logLevel: "warning",
  });
  staged.push(name);
}
// Placeholder so the Dockerfile's COPY of bin/ works even when nothing was bundled.
writeFileSync(path.join(binDir, "package.json"), `${JSON.stringify({ type: "module", private: true })}\n`);
process.stdout.write(`staged sidecars context in ${out} (bins: ${staged.join(", ") || "none"})\n`);
