#!/usr/bin/env node
// Part of the CLI's build: put everything `bottle build` needs at run time into
// dist/images, so an installed CLI never looks for a checkout:
//   stage-lib.mjs, base-image.sh, agent/{Dockerfile,stage.mjs},
//   sidecars/{Dockerfile,stage.mjs,bin/…} (the sidecar bins, bundled here),
//   images.json: the CLI version and the image tags, `bottle/<name>:<version>-<recipe hash>`.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = path.resolve(cliDir, "..", "..");
const out = path.join(cliDir, "dist", "images");
const require = createRequire(path.join(cliDir, "package.json"));

const { contextHash } = await import(pathToFileURL(require.resolve("@bottle/backend-docker")).href);
const { bundleSidecarBins } = await import(pathToFileURL(path.join(repoRoot, "images", "sidecars", "bundle.mjs")).href);
const esbuild = require("esbuild");

rmSync(out, { recursive: true, force: true });
for (const name of ["agent", "sidecars"]) mkdirSync(path.join(out, name), { recursive: true });
const copy = (from, to) => copyFileSync(path.join(repoRoot, from), path.join(out, to));
copy("images/stage-lib.mjs", "stage-lib.mjs");
copy("scripts/base-image.sh", "base-image.sh");
for (const name of ["agent", "sidecars"]) {
  copy(`images/${name}/Dockerfile`, `${name}/Dockerfile`);
  copy(`images/${name}/stage.mjs`, `${name}/stage.mjs`);
}
const bins = await bundleSidecarBins({ out: path.join(out, "sidecars", "bin"), resolveFrom: path.join(cliDir, "package.json"), esbuild });

// The tag names the recipe (Dockerfile, stage scripts, bundled bins) and the CLI version,
// so two CLI versions on one machine never share an image. What the host adds at build
// time (its Node, an extra CA, the base image) goes into the content-hash label instead.
const { version } = JSON.parse(readFileSync(path.join(cliDir, "package.json"), "utf8"));
const stageLib = createHash("sha256").update(readFileSync(path.join(out, "stage-lib.mjs"))).digest("hex");
const tags = {};
const recipeHashes = {};
for (const name of ["agent", "sidecars"]) {
  recipeHashes[name] = await contextHash({ contextDir: path.join(out, name), extra: { "stage-lib": stageLib } });
  tags[name] = `bottle/${name}:${version}-${recipeHashes[name].slice(0, 12)}`;
}
writeFileSync(path.join(out, "images.json"), `${JSON.stringify({ version, tags, recipeHashes }, null, 2)}\n`);
process.stdout.write(`dist/images: sidecar bins ${bins.join(", ")}; ${tags.agent}, ${tags.sidecars}\n`);
