import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { BottleError } from "@bottle/errors";
import { DEFAULT_IMAGES } from "@bottle/plan";
import { execa } from "execa";
import { contextHash } from "./context-hash.js";

export type ImageName = "agent" | "sidecars";
export const IMAGE_NAMES: readonly ImageName[] = ["sidecars", "agent"];

/** Label holding the content hash an image was built from; equal hash → build skipped. */
export const CONTENT_HASH_LABEL = "dev.bottle.content-hash";

export interface ImageBuildEvent {
  image: ImageName | "base";
  kind: "stage" | "skip" | "build" | "log" | "warn" | "done";
  message: string;
}

export type ImageProgress = (event: ImageBuildEvent) => void;

/** Label naming the base an image was built on: `offline` or the registry image reference. */
export const BASE_LABEL = "dev.bottle.base";

/** The offline debootstrap base, or a Node image pulled from the user's registry. */
export type BaseChoice = { kind: "offline" } | { kind: "registry"; image: string };

/** What a normal machine has: the official Node image on Debian bookworm (Claude Code wants Node ≥ 22). */
export const DEFAULT_REGISTRY_BASE = "node:22-bookworm-slim";

export interface BuildImagesOptions {
  /**
   * Folder holding the recipes: `<name>/stage.mjs` (+ Dockerfile), `stage-lib.mjs` and, for
   * the offline base, `base-image.sh` (the CLI ships one in `dist/images`).
   */
  recipeDir: string;
  /** Base image of both images (default: the offline debootstrap base). */
  base?: BaseChoice;
  /** PEM bundle trusted during builds only (registry access through a TLS-intercepting proxy). */
  extraCaBundle?: string;
  onProgress?: ImageProgress;
  /** Build even when an image with the same content hash exists. */
  force?: boolean;
  /** Which images; default both (sidecars, agent). */
  images?: readonly ImageName[];
  /** `--build-arg`s, e.g. PIPELOCK_VERSION / PIPELOCK_SHA256 for the sidecars. */
  buildArgs?: Record<string, string>;
  /** Tags to build (defaults: DEFAULT_IMAGES of @bottle/plan; the CLI passes versioned tags). */
  tags?: Partial<Record<ImageName, string>>;
  /** Extra labels on the built images. */
  labels?: Record<string, string>;
  /** Docker CLI to run (default `docker`). */
  docker?: string;
}

export interface BuiltImage {
  name: ImageName;
  tag: string;
  contentHash: string;
  imageId: string;
  sizeBytes: number;
  /** false when an image with the same content hash was already there. */
  built: boolean;
  durationMs: number;
}

export interface EnsureBaseImageOptions {
  /** The debootstrap script (`base-image.sh`) that builds the offline base when missing. */
  script: string;
  onProgress?: ImageProgress;
  /** Rebuild even when present (uses the cached root filesystem when there is one). */
  force?: boolean;
  docker?: string;
}

export interface BaseImage {
  tag: string;
  imageId: string;
  built: boolean;
}

const TAIL_LINES = 25;

const noProgress: ImageProgress = () => {};

/** Throws DOCKER_UNAVAILABLE unless a Docker engine answers. */
export async function requireDockerEngine(docker = "docker"): Promise<string> {
  const res = await execa(docker, ["info", "--format", "{{.ServerVersion}}"], { reject: false });
  if (res.failed || res.exitCode !== 0) {
    throw new BottleError("No Docker engine answers, so the images cannot be built.", {
      code: "DOCKER_UNAVAILABLE",
      hint: "Start one (e.g. `systemctl start docker`; from a clone, as root: `bash scripts/docker-engine.sh`) and retry.",
      details: { stderr: String(res.stderr ?? "").slice(-2000) },
    });
  }
  return String(res.stdout).trim();
}

async function imageLabel(docker: string, tag: string, label: string): Promise<string | undefined> {
  const res = await execa(docker, ["image", "inspect", "--format", `{{ index .Config.Labels "${label}" }}`, tag], {
    reject: false,
  });
  if (res.exitCode !== 0) return undefined;
  const value = String(res.stdout).trim();
  return value && value !== "<no value>" ? value : undefined;
}

async function imageFacts(docker: string, tag: string): Promise<{ id: string; size: number } | undefined> {
  const res = await execa(docker, ["image", "inspect", "--format", "{{.Id}} {{.Size}}", tag], { reject: false });
  if (res.exitCode !== 0) return undefined;
  const [id = "", size = "0"] = String(res.stdout).trim().split(" ");
  return { id, size: Number(size) };
}

/** Runs a command, forwards each output line as a `log` event, keeps the tail for errors. */
async function streamed(
  file: string,
  args: string[],
  image: ImageBuildEvent["image"],
  onProgress: ImageProgress,
  cwd?: string,
): Promise<{ exitCode: number; tail: string[] }> {
  const sub = execa(file, args, { all: true, reject: false, buffer: false, stdin: "ignore", ...(cwd ? { cwd } : {}) });
  const tail: string[] = [];
  for await (const line of sub.iterable({ from: "all" })) {
    const text = String(line);
    tail.push(text);
    if (tail.length > TAIL_LINES) tail.shift();
    onProgress({ image, kind: "log", message: text });
  }
  const res = await sub;
  return { exitCode: res.exitCode ?? 1, tail };
}

/** Builds the offline base bottle/base:bookworm with base-image.sh (debootstrap) when it is missing. */
export async function ensureBaseImage(options: EnsureBaseImageOptions): Promise<BaseImage> {
  const docker = options.docker ?? "docker";
  const onProgress = options.onProgress ?? noProgress;
  const tag = DEFAULT_IMAGES.base;
  await requireDockerEngine(docker);
  const present = await imageFacts(docker, tag);
  if (present && !options.force) return { tag, imageId: present.id, built: false };

  const script = options.script;
  if (!existsSync(script)) {
    throw new BottleError(`${tag} is missing and ${script} is not there to build it.`, {
      code: "BASE_IMAGE_MISSING",
      hint: "Reinstall the bottle CLI (its package carries base-image.sh), or build without --offline-base.",
    });
  }
  onProgress({ image: "base", kind: "build", message: `building ${tag} (debootstrap, about a minute)` });
  const { exitCode, tail } = await streamed("bash", [script, ...(options.force ? ["--force"] : [])], "base", onProgress);
  const built = await imageFacts(docker, tag);
  if (exitCode !== 0 || !built) {
    throw new BottleError(`Building the base image ${tag} failed.`, {
      code: "BASE_IMAGE_BUILD_FAILED",
      hint: "See the output above; debootstrap needs root and the Debian mirror apt uses.",
      details: { tail },
    });
  }
  onProgress({ image: "base", kind: "done", message: `${tag} ready` });
  return { tag, imageId: built.id, built: true };
}

/** A Node base from the user's registry: used when present, pulled when not. */
export async function ensureRegistryBase(options: { image: string; onProgress?: ImageProgress; docker?: string }): Promise<BaseImage> {
  const docker = options.docker ?? "docker";
  const onProgress = options.onProgress ?? noProgress;
  await requireDockerEngine(docker);
  const present = await imageFacts(docker, options.image);
  if (present) return { tag: options.image, imageId: present.id, built: false };
  onProgress({ image: "base", kind: "build", message: `docker pull ${options.image}` });
  const { exitCode, tail } = await streamed(docker, ["pull", options.image], "base", onProgress);
  const pulled = await imageFacts(docker, options.image);
  if (exitCode !== 0 || !pulled) {
    throw new BottleError(`Pulling the base image ${options.image} failed.`, {
      code: "BASE_IMAGE_PULL_FAILED",
      hint: "Without a reachable registry, build on the offline base: `bottle build --offline-base` (debootstrap, needs root). Or name a mirror with --base-image.",
      details: { tail },
    });
  }
  onProgress({ image: "base", kind: "done", message: `${options.image} pulled` });
  return { tag: options.image, imageId: pulled.id, built: true };
}

/** The base an existing image was built on (its BASE_LABEL), if it exists and says. */
export async function builtOnBase(tag: string, docker = "docker"): Promise<BaseChoice | undefined> {
  const value = await imageLabel(docker, tag, BASE_LABEL);
  if (!value) return undefined;
  return value === "offline" ? { kind: "offline" } : { kind: "registry", image: value };
}

async function stageContext(
  recipeDir: string,
  name: ImageName,
  outDir: string,
  base: BaseChoice,
  extraCaBundle: string | undefined,
  onProgress: ImageProgress,
): Promise<void> {
  const script = path.join(recipeDir, name, "stage.mjs");
  if (!existsSync(script)) {
    throw new BottleError(`No build recipe for ${name}: ${script} is missing.`, {
      code: "IMAGE_RECIPE_MISSING",
      hint: "Reinstall the bottle CLI (its package carries the image recipes); from a clone, run `pnpm build`.",
    });
  }
  const args = [script, "--out", outDir, "--base", base.kind, ...(extraCaBundle ? ["--extra-ca", extraCaBundle] : [])];
  const sub = execa(process.execPath, args, { all: true, reject: false, stdin: "ignore", cwd: recipeDir });
  for await (const line of sub.iterable({ from: "all" })) {
    const text = String(line);
    onProgress({ image: name, kind: text.includes("WARNING") ? "warn" : "stage", message: text });
  }
  const res = await sub;
  if (res.exitCode !== 0) {
    throw new BottleError(`Staging the ${name} build context failed.`, {
      code: "IMAGE_STAGE_FAILED",
      hint: "Check the output above (from a clone: `pnpm build` first).",
      details: { tail: String(res.all ?? "").split("\n").slice(-TAIL_LINES) },
    });
  }
}

/**
 * Stages each image's build context, hashes it (+ base image id, tag, build args) and runs
 * `docker build` only when no image carries that hash in its `dev.bottle.content-hash` label.
 */
export async function buildImages(options: BuildImagesOptions): Promise<BuiltImage[]> {
  const docker = options.docker ?? "docker";
  const onProgress = options.onProgress ?? noProgress;
  const recipeDir = path.resolve(options.recipeDir);
  const baseChoice = options.base ?? { kind: "offline" };
  const extraCaBundle = options.extraCaBundle ? path.resolve(options.extraCaBundle) : undefined;
  if (extraCaBundle && !existsSync(extraCaBundle)) {
    throw new BottleError(`The extra CA bundle ${extraCaBundle} does not exist.`, {
      code: "EXTRA_CA_MISSING",
      hint: "Point extraCaBundle at a PEM file, e.g. /etc/ssl/certs/ca-certificates.crt.",
    });
  }
  const base =
    baseChoice.kind === "offline"
      ? await ensureBaseImage({ script: path.join(recipeDir, "base-image.sh"), onProgress, docker })
      : await ensureRegistryBase({ image: baseChoice.image, onProgress, docker });
  const buildArgs = { ...options.buildArgs, BASE_IMAGE: base.tag };
  const labels = { ...options.labels, [BASE_LABEL]: baseChoice.kind === "offline" ? "offline" : baseChoice.image };
  const results: BuiltImage[] = [];

  for (const name of options.images ?? IMAGE_NAMES) {
    const tag = options.tags?.[name] ?? DEFAULT_IMAGES[name];
    const started = Date.now();
    const contextDir = await mkdtemp(path.join(tmpdir(), `bottle-build-${name}-`));
    try {
      onProgress({ image: name, kind: "stage", message: `staging build context` });
      await stageContext(recipeDir, name, contextDir, baseChoice, extraCaBundle, onProgress);
      const extra: Record<string, string> = { image: name, tag, base: base.imageId };
      for (const [key, value] of Object.entries(buildArgs)) extra[`arg:${key}`] = value;
      for (const [key, value] of Object.entries(labels)) extra[`label:${key}`] = value;
      const hash = await contextHash({ contextDir, extra });

      if (!options.force && (await imageLabel(docker, tag, CONTENT_HASH_LABEL)) === hash) {
        const facts = await imageFacts(docker, tag);
        onProgress({ image: name, kind: "skip", message: `${tag} is up to date (${hash.slice(0, 12)})` });
        results.push({
          name,
          tag,
          contentHash: hash,
          imageId: facts?.id ?? "",
          sizeBytes: facts?.size ?? 0,
          built: false,
          durationMs: Date.now() - started,
        });
        continue;
      }

      onProgress({ image: name, kind: "build", message: `docker build -t ${tag} (${hash.slice(0, 12)})` });
      const args = ["build", "--tag", tag, "--label", `${CONTENT_HASH_LABEL}=${hash}`];
      for (const [key, value] of Object.entries(labels)) args.push("--label", `${key}=${value}`);
      for (const [key, value] of Object.entries(buildArgs)) args.push("--build-arg", `${key}=${value}`);
      args.push(contextDir);
      const { exitCode, tail } = await streamed(docker, args, name, onProgress);
      const facts = await imageFacts(docker, tag);
      if (exitCode !== 0 || !facts) {
        throw new BottleError(`Building ${tag} failed.`, {
          code: "IMAGE_BUILD_FAILED",
          hint: extraCaBundle
            ? "See the build output above."
            : "See the build output above. Behind a TLS-intercepting proxy, pass an extra CA bundle.",
          details: { tail },
        });
      }
      const durationMs = Date.now() - started;
      onProgress({
        image: name,
        kind: "done",
        message: `${tag} built in ${(durationMs / 1000).toFixed(1)}s, ${(facts.size / 1e6).toFixed(0)} MB`,
      });
      results.push({ name, tag, contentHash: hash, imageId: facts.id, sizeBytes: facts.size, built: true, durationMs });
    } finally {
      await rm(contextDir, { recursive: true, force: true });
    }
  }
  return results;
}
