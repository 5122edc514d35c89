#!/usr/bin/env node
// Packs every publishable workspace package (not private) with `pnpm pack`, which
// rewrites workspace:^ to real ranges, into one folder; prints the tarballs as JSON.
//   node tools/pack-all.mjs DIR
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** { name, dir } of every workspace package that is not private. */
export function publishablePackages(root = repoRoot) {
  const out = [];
  for (const group of ["packages", "apps", "tools"]) {
    let entries = [];
    try {
      entries = readdirSync(path.join(root, group));
    } catch {
      continue;
    }
    for (const entry of entries.sort()) {
      const dir = path.join(root, group, entry);
      let manifest;
      try {
        manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
      } catch {
        continue;
      }
      if (!manifest.private) out.push({ name: manifest.name, version: manifest.version, dir });
    }
  }
  return out;
}

/** Packs each publishable package into `dest`; returns [{ name, version, tarball }]. */
export function packAll(dest, root = repoRoot) {
  mkdirSync(dest, { recursive: true });
  const filters = publishablePackages(root).flatMap((p) => ["--filter", p.name]);
  execFileSync("pnpm", [...filters, "pack", "--pack-destination", dest], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  return publishablePackages(root).map((p) => {
    const tarball = path.join(dest, `${p.name.replace(/^@/, "").replace("/", "-")}-${p.version}.tgz`);
    return { name: p.name, version: p.version, tarball };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dest = process.argv[2];
  if (!dest) throw new Error("usage: node tools/pack-all.mjs DIR");
  process.stdout.write(`${JSON.stringify(packAll(path.resolve(dest)), null, 2)}\n`);
}
