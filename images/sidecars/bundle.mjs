// Bundle each sidecar bin with esbuild into one folder of self-contained ESM
// (bin/<name>/main.mjs plus lazily loaded chunks). Runs when the CLI is built, so the
// installed CLI carries the bins and never needs the workspace at run time.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/** name on PATH in the image → the package whose `bin` entry it is */
export const SIDECAR_BINS = {
  "bottle-supervisor": "@bottle/supervisor",
  "bottle-egress": "@bottle/egress",
  "bottle-scan": "@bottle/scan",
  "bottle-supervise": "@bottle/supervise",
};

// Bundled ESM still meets CommonJS dependencies calling require() on builtins; esbuild's
// shim looks for a `require` in scope, so provide one globally (a top-level `const require`
// could collide with a bundled module's own declaration).
const BANNER = [
  'import { createRequire as __bottleCreateRequire } from "node:module";',
  "globalThis.require ??= __bottleCreateRequire(import.meta.url);",
].join("\n");

/**
 * @param {{ out: string, resolveFrom: string, esbuild: typeof import("esbuild") }} options
 *   out: the bin folder to (re)create; resolveFrom: a package.json the sidecar packages
 *   resolve from; esbuild: the esbuild module.
 */
export async function bundleSidecarBins({ out, resolveFrom, esbuild }) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const require = createRequire(resolveFrom);
  const staged = [];
  for (const [name, pkg] of Object.entries(SIDECAR_BINS)) {
    const manifestPath = require.resolve(`${pkg}/package.json`);
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    const entry = path.join(path.dirname(manifestPath), manifest.bin[name]);
    // Split into chunks: code a bin loads with import() (egress's proxy and its
    // dependencies) stays out of the entry, so signal handlers are installed before Node
    // has to parse the rest.
    await esbuild.build({
      entryPoints: { main: entry },
      outdir: path.join(out, name),
      splitting: true,
      outExtension: { ".js": ".mjs" },
      bundle: true,
      platform: "node",
      target: "node20",
      format: "esm",
      banner: { js: BANNER },
      legalComments: "none",
      logLevel: "warning",
    });
    staged.push(name);
  }
  writeFileSync(path.join(out, "package.json"), `${JSON.stringify({ type: "module", private: true })}\n`);
  return staged;
}
