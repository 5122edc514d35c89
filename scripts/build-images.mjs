#!/usr/bin/env node
// Build bottle/base, bottle/sidecars and bottle/agent with the image build library of
// @bottle/backend-docker (skips images whose content hash is unchanged). Stand-in for
// `bottle build` until the CLI wires it.
//   node scripts/build-images.mjs [--extra-ca FILE] [--force] [--only agent|sidecars]
//                                 [--build-arg KEY=VALUE]...
// Default extra CA: $BOTTLE_EXTRA_CA_BUNDLE, else $NODE_EXTRA_CA_CERTS, else none.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const { values } = parseArgs({
  options: {
    "extra-ca": { type: "string" },
    force: { type: "boolean" },
    only: { type: "string", multiple: true },
    "build-arg": { type: "string", multiple: true },
  },
});

/** The library from the package's dist once its index exports it; else bundled from src. */
async function loadImagesLibrary() {
  const dist = path.join(repoRoot, "packages/backend-docker/dist/index.js");
  if (existsSync(dist)) {
    const mod = await import(pathToFileURL(dist).href);
    if (typeof mod.buildImages === "function") return { lib: mod, cleanup: () => {} };
  }
  const requireFromRoot = createRequire(path.join(repoRoot, "package.json"));
  const esbuild = createRequire(requireFromRoot.resolve("tsup/package.json"))("esbuild");
  const dir = mkdtempSync(path.join(tmpdir(), "bottle-images-lib-"));
  const outfile = path.join(dir, "images.mjs");
  await esbuild.build({
    entryPoints: [path.join(repoRoot, "packages/backend-docker/src/images/index.ts")],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    banner: { js: 'import { createRequire as __cr } from "node:module"; globalThis.require ??= __cr(import.meta.url);' },
    logLevel: "warning",
  });
  return { lib: await import(pathToFileURL(outfile).href), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const extraCa = values["extra-ca"] ?? process.env.BOTTLE_EXTRA_CA_BUNDLE ?? process.env.NODE_EXTRA_CA_CERTS;
const buildArgs = Object.fromEntries(
  (values["build-arg"] ?? []).map((kv) => {
    const at = kv.indexOf("=");
    return at < 0 ? [kv, process.env[kv] ?? ""] : [kv.slice(0, at), kv.slice(at + 1)];
  }),
);

const { lib, cleanup } = await loadImagesLibrary();
const started = Date.now();
try {
  const baseStarted = Date.now();
  const base = await lib.ensureBaseImage({
    repoRoot,
    onProgress: (e) => process.stdout.write(`[${e.image}] ${e.message}\n`),
  });
  const baseSeconds = ((Date.now() - baseStarted) / 1000).toFixed(1);
  const results = await lib.buildImages({
    repoRoot,
    ...(extraCa && existsSync(extraCa) ? { extraCaBundle: extraCa } : {}),
    force: values.force ?? false,
    ...(values.only ? { images: values.only } : {}),
    buildArgs,
    onProgress: (e) => {
      if (e.kind === "log" && process.env.BOTTLE_BUILD_QUIET === "1") return;
      process.stdout.write(`[${e.image}] ${e.message}\n`);
    },
  });
  const rows = [
    `| image | result | seconds | size MB |`,
    `| --- | --- | ---: | ---: |`,
    `| ${base.tag} | ${base.built ? "built" : "present"} | ${baseSeconds} | |`,
    ...results.map(
      (r) =>
        `| ${r.tag} | ${r.built ? "built" : "up to date"} | ${(r.durationMs / 1000).toFixed(1)} | ${(r.sizeBytes / 1e6).toFixed(0)} |`,
    ),
  ];
  process.stdout.write(`\n${rows.join("\n")}\n\nimages ready in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
} catch (error) {
  if (error && error.code && error.message) {
    process.stderr.write(`error: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ""}`);
    if (Array.isArray(error.details?.tail)) process.stderr.write(`${error.details.tail.join("\n")}\n`);
    process.exitCode = 2;
  } else {
    throw error;
  }
} finally {
  cleanup();
}
