// Shared steps for the images' stage.mjs scripts: each writes a complete, self-contained
// docker build context into an output folder (Dockerfile + inputs), so the build library
// can hash it and `docker build` it without reaching into the repository.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

/**
 * `--out DIR [--extra-ca FILE] [--base offline|registry]` → { out, extraCa, base }.
 * `offline` (default): FROM the debootstrap base, Node copied in from the host.
 * `registry`: FROM a Node image, which brings node and npm itself.
 */
export function parseStageArgs(argv = process.argv.slice(2)) {
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: "string" }, "extra-ca": { type: "string" }, base: { type: "string", default: "offline" } },
  });
  if (!values.out) throw new Error("usage: stage.mjs --out DIR [--extra-ca FILE] [--base offline|registry]");
  if (values.base !== "offline" && values.base !== "registry") throw new Error(`--base must be offline or registry, not ${values.base}`);
  return {
    out: path.resolve(values.out),
    extraCa: values["extra-ca"] ? path.resolve(values["extra-ca"]) : undefined,
    base: values.base,
  };
}

const OFFLINE_BLOCK = /^# >>> offline-node\n[\s\S]*?^# <<< offline-node\n/gm;

/**
 * The Dockerfile for one base kind: on a registry Node base the `offline-node` blocks
 * (which copy the host's Node in) are removed; on the offline base it is copied as is.
 */
export function stageDockerfile(src, out, base) {
  const text = readFileSync(src, "utf8");
  writeFileSync(path.join(out, "Dockerfile"), base === "registry" ? text.replace(OFFLINE_BLOCK, "") : text);
}

/** Copies a prepared folder (e.g. the sidecars' bundled bins) into the context. */
export function stageDir(src, out, name = path.basename(src)) {
  if (!existsSync(src)) throw new Error(`${src} is missing; build the bottle CLI first (pnpm build)`);
  cpSync(src, path.join(out, name), { recursive: true });
}

export function resetDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

/**
 * The host's Node binary (the one running this script). Debian bookworm's nodejs is 18;
 * nodesource/official Node 20 builds link only against glibc/libstdc++, which bookworm has.
 */
export function stageNode(out) {
  const dest = path.join(out, "node");
  copyFileSync(process.execPath, dest);
  chmodSync(dest, 0o755);
  return dest;
}

/** The npm that ships with the host's Node (`<prefix>/lib/node_modules/npm`). */
export function findHostNpm() {
  const candidates = [
    path.resolve(path.dirname(process.execPath), "..", "lib", "node_modules", "npm"),
    path.resolve(path.dirname(process.execPath), "node_modules", "npm"),
  ];
  try {
    const root = execFileSync("npm", ["root", "-g"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    candidates.push(path.join(root, "npm"));
  } catch {
    // npm not on PATH; the prefix candidates above remain
  }
  const found = candidates.find((dir) => existsSync(path.join(dir, "bin", "npm-cli.js")));
  if (!found) throw new Error(`npm not found next to ${process.execPath} (looked in ${candidates.join(", ")})`);
  return found;
}

/**
 * npm as `npm.tar` (folder `npm/`), which the Dockerfile ADDs (docker extracts local tars).
 * One reproducible tar is much faster to stage and hash than ~2,400 loose files.
 */
export function stageNpm(out) {
  const src = findHostNpm();
  execFileSync(
    "tar",
    ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-C", path.dirname(src), "-cf",
      path.join(out, "npm.tar"), path.basename(src)],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  return src;
}

/**
 * `extra-ca.pem` is always present in the context (empty when no bundle is given) so the
 * Dockerfiles can COPY it unconditionally; builds use it only when it is non-empty.
 */
export function stageExtraCa(out, extraCa) {
  const dest = path.join(out, "extra-ca.pem");
  if (extraCa) {
    const pem = readFileSync(extraCa, "utf8");
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new Error(`${extraCa} holds no PEM certificate`);
    writeFileSync(dest, pem);
  } else {
    writeFileSync(dest, "");
  }
}

export function stageFile(src, out, name = path.basename(src)) {
  copyFileSync(src, path.join(out, name));
}

export function warn(message) {
  process.stderr.write(`stage: WARNING: ${message}\n`);
}
