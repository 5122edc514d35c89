import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import path from "node:path";

/** Bump when the hash recipe changes so old labels stop matching. */
const RECIPE = "bottle-context-hash/v1";

export interface ContextHashInput {
  /** The staged build context folder (Dockerfile included). */
  contextDir: string;
  /** Anything else the image depends on: base image id, build args, tag. */
  extra?: Record<string, string>;
}

async function fileDigest(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function listFiles(root: string, rel = ""): Promise<string[]> {
  const entries = await readdir(path.join(root, rel), { withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      out.push(`${child}/`, ...(await listFiles(root, child)));
    } else {
      out.push(child);
    }
  }
  return out;
}

/**
 * Deterministic sha256 of a build context: every path (sorted), its type, executable bit
 * and content (or link target), plus the `extra` entries. Timestamps and owners are left
 * out on purpose, so re-staging the same inputs gives the same hash.
 */
export async function contextHash({ contextDir, extra = {} }: ContextHashInput): Promise<string> {
  const hash = createHash("sha256");
  hash.update(`${RECIPE}\n`);
  for (const key of Object.keys(extra).sort()) hash.update(`extra ${key}=${extra[key]}\n`);
  const files = (await listFiles(contextDir)).sort();
  for (const rel of files) {
    const full = path.join(contextDir, rel);
    if (rel.endsWith("/")) {
      hash.update(`dir ${rel}\n`);
      continue;
    }
    const stat = await lstat(full);
    if (stat.isSymbolicLink()) {
      hash.update(`link ${rel} ${await readlink(full)}\n`);
    } else if (stat.isFile()) {
      const exec = (stat.mode & 0o111) !== 0 ? "x" : "-";
      hash.update(`file ${rel} ${exec} ${stat.size} ${await fileDigest(full)}\n`);
    } else {
      hash.update(`other ${rel}\n`);
    }
  }
  return hash.digest("hex");
}
