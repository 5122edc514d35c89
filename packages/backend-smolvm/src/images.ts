import { access, mkdir, rename, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { BottleError } from "@bottle/errors";

/** Label on the images derived for smolvm (`USER root`), so they can be found and removed. */
export const DERIVED_IMAGE_LABEL = "dev.bottle.smolvm-derived";

/**
 * smolvm's `machine exec` runs as the image's configured user and has no --user flag
 * (pinned version: vm_common::resolve_image_runtime_defaults). Provisioning needs root
 * (update-ca-certificates, chown), so the backend hands smolvm a derived image whose
 * only change is `USER root`; the agent command then drops to the agent user with runuser.
 */
export function derivedDockerfile(image: string): string {
  return `FROM ${image}\nUSER root\nLABEL ${DERIVED_IMAGE_LABEL}="1"\n`;
}

export function derivedTag(image: string): string {
  const at = image.lastIndexOf(":");
  const slash = image.lastIndexOf("/");
  const [repo, tag] = at > slash ? [image.slice(0, at), image.slice(at + 1)] : [image, "latest"];
  return `${repo}:${tag}-smolvm`;
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), ".cache");
  return path.join(base, "bottle", "smolvm-images");
}

export interface ImageArchiveOptions {
  /** Folder for the archives; default `$XDG_CACHE_HOME/bottle/smolvm-images`. */
  cacheDir?: string;
  docker?: string;
  log?: (line: string) => void;
}

async function docker(bin: string, args: string[], input?: string): Promise<string> {
  try {
    const r = await execa(bin, args, { ...(input !== undefined ? { input } : {}), stripFinalNewline: true });
    return r.stdout;
  } catch (error) {
    const e = error as { stderr?: string; code?: string; shortMessage?: string };
    if (e.code === "ENOENT") {
      throw new BottleError("docker is needed to hand bottle's images to smolvm, and it was not found", {
        code: "SMOLVM_IMAGES_NEED_DOCKER",
        hint: "install docker (the images are built with it), or pass ready `docker save` archives as images",
        cause: error,
      });
    }
    throw new BottleError(`docker ${args[0]} failed: ${(e.stderr ?? e.shortMessage ?? "").trim().split("\n").pop()}`, {
      code: "SMOLVM_IMAGE_PREP_FAILED",
      hint: args[0] === "image" ? "build the images first (pnpm images or `docker build` in images/)" : "check `docker info`",
      cause: error,
    });
  }
}

/** Builds `<image>-smolvm`: the image with `USER root` (metadata only, no new layer content). Returns the tag. */
export async function deriveImage(image: string, options: Pick<ImageArchiveOptions, "docker" | "log"> = {}): Promise<string> {
  const tag = derivedTag(image);
  options.log?.(`smolvm: deriving ${tag} (USER root) from ${image}`);
  await docker(options.docker ?? "docker", ["build", "--quiet", "--tag", tag, "-"], derivedDockerfile(image));
  return tag;
}

/**
 * A `docker save` archive of `image` with `USER root`, for `machine create --image`.
 * Cached by the source image's id: a rebuilt image gets a new archive; an unchanged one costs nothing.
 */
export async function imageArchive(image: string, options: ImageArchiveOptions = {}): Promise<string> {
  const bin = options.docker ?? "docker";
  const log = options.log ?? (() => {});
  const id = await docker(bin, ["image", "inspect", "--format", "{{.Id}}", image]);
  const dir = options.cacheDir ?? cacheRoot();
  const file = path.join(dir, `${id.replace(/^sha256:/, "").slice(0, 16)}.tar`);
  try {
    await access(file);
    return file;
  } catch {
    // not cached yet
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tag = await deriveImage(image, { docker: bin, log });
  log(`smolvm: saving ${tag} to ${file}`);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await docker(bin, ["save", "--output", tmp, tag]);
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
  return file;
}
