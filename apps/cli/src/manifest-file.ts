import { readFile } from "node:fs/promises";
import path from "node:path";
import { BottleError } from "@bottle/errors";
import { parseManifest, type Manifest } from "@bottle/manifest";

export interface LoadedManifest {
  manifest: Manifest;
  /** Absolute path. */
  file: string;
  /** The path as messages show it (relative to the working directory). */
  display: string;
}

/** Reads and validates the manifest: `-f FILE`, or ./bottle.json. */
export async function loadManifest(file: string | undefined, cwd = process.cwd()): Promise<LoadedManifest> {
  const absolute = path.resolve(cwd, file ?? "bottle.json");
  let text: string;
  try {
    text = await readFile(absolute, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BottleError(code === "ENOENT" ? `no manifest at ${absolute}` : `cannot read ${absolute}: ${code ?? String(error)}`, {
      code: "MANIFEST_NOT_FOUND",
      hint: file ? "check the path given to -f" : "run bottle in the folder with bottle.json, pass -f FILE, or write a starter one with `bottle init`",
    });
  }
  const display = path.relative(cwd, absolute) || absolute;
  return { manifest: parseManifest(text, { file: display }), file: absolute, display };
}
