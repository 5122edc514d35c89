#!/usr/bin/env node
// What a registry would receive, checked before anything is published (CI: scripts/test.sh
// phase publish-dry-run; `pnpm publish:check`). Packs every publishable package like
// `pnpm publish` would and fails on:
//   a `workspace:` range or a private workspace package in what is packed; `exports` whose
//   "." does not list `types` first, or points at files not in the tarball; a missing
//   files/engines/license/repository/README; a `bin` not in the tarball; a bare import in
//   the packed JavaScript that is neither a Node builtin nor a declared dependency.
// Then runs `pnpm -r publish --dry-run` for the same packages.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { packAll, publishablePackages, repoRoot } from "./pack-all.mjs";

const DEP_FIELDS = ["dependencies", "peerDependencies", "optionalDependencies"];
// ESM as tsup writes it: import/export statements at line start and import("…") calls.
const IMPORT_RE = /^(?:import|export)\s[^'"]*?from\s*["']([^"'./][^"']*)["']|^import\s*["']([^"'./][^"']*)["']|\bimport\(\s*["']([^"'./][^"']*)["']\s*\)/gm;
// Self-contained esbuild bundles (the sidecar bins the CLI carries) need no dependencies;
// their generated code quotes require() calls in strings.
const SELF_CONTAINED = /^dist\/images\//;

function tarList(tarball) {
  return execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n").filter(Boolean).map((f) => f.replace(/^package\//, ""));
}
function tarRead(tarball, file) {
  return execFileSync("tar", ["-xOzf", tarball, `package/${file}`], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
}
function packageOf(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** Problems of one packed package: [] when it is fit to publish. */
export function checkPacked({ tarball, privateNames }) {
  const problems = [];
  const files = new Set(tarList(tarball));
  const manifest = JSON.parse(tarRead(tarball, "package.json"));
  const has = (rel) => files.has(rel.replace(/^\.\//, ""));
  for (const field of [...DEP_FIELDS, "devDependencies"]) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith("workspace:")) problems.push(`${field}.${dep} is still "${range}"`);
      if (field !== "devDependencies" && privateNames.has(dep)) problems.push(`${field}.${dep} is a private workspace package`);
    }
  }
  for (const field of ["files", "license", "repository", "engines"]) if (!manifest[field]) problems.push(`no "${field}"`);
  if (manifest.engines && !manifest.engines.node) problems.push('no "engines.node"');
  if (!files.has("README.md")) problems.push("no README.md in the tarball");
  const root = manifest.exports?.["."];
  if (!root || typeof root !== "object") problems.push('no "exports" "." conditions');
  else {
    if (Object.keys(root)[0] !== "types") problems.push('exports "." must list "types" first');
    for (const [condition, target] of Object.entries(root)) if (typeof target === "string" && !has(target)) problems.push(`exports "." ${condition} → ${target} is not in the tarball`);
  }
  for (const [name, target] of Object.entries(manifest.bin ?? {})) if (!has(target)) problems.push(`bin ${name} → ${target} is not in the tarball`);
  const declared = new Set([manifest.name, ...DEP_FIELDS.flatMap((f) => Object.keys(manifest[f] ?? {}))]);
  const builtins = new Set(builtinModules);
  for (const file of files) {
    if (!/\.(m?js|cjs)$/.test(file) || SELF_CONTAINED.test(file)) continue;
    for (const match of tarRead(tarball, file).matchAll(IMPORT_RE)) {
      const specifier = match[1] ?? match[2] ?? match[3];
      if (!specifier || specifier.startsWith("node:") || builtins.has(specifier)) continue;
      const pkg = packageOf(specifier);
      if (!declared.has(pkg)) problems.push(`${file} imports "${specifier}", which is not a dependency`);
    }
  }
  return { name: manifest.name, problems: [...new Set(problems)] };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dest = mkdtempSync(path.join(tmpdir(), "bottle-publish-check-"));
  try {
    // private = in the workspace but not publishable
    const privateNames = new Set();
    const publishable = new Set(publishablePackages().map((p) => p.name));
    for (const p of JSON.parse(execFileSync("pnpm", ["ls", "-r", "--depth", "-1", "--json"], { cwd: repoRoot, encoding: "utf8" }))) {
      if (p.name && !publishable.has(p.name)) privateNames.add(p.name);
    }
    let failed = 0;
    for (const packed of packAll(dest)) {
      const { name, problems } = checkPacked({ tarball: packed.tarball, privateNames });
      process.stdout.write(problems.length ? `FAIL ${name}\n${problems.map((p) => `  - ${p}`).join("\n")}\n` : `ok   ${name}\n`);
      failed += problems.length ? 1 : 0;
    }
    if (failed) {
      process.stderr.write(`${failed} package(s) are not fit to publish\n`);
      process.exit(1);
    }
    const filters = publishablePackages().flatMap((p) => ["--filter", p.name]);
    execFileSync("pnpm", ["-r", ...filters, "publish", "--dry-run", "--no-git-checks"], { cwd: repoRoot, stdio: "inherit" });
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
}
