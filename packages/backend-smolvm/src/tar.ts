import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import path from "node:path";

/** One entry of an archive sent into a guest. Paths are relative to the guest's `/`. */
export type TarEntry =
  | { type: "file"; path: string; content: string | Uint8Array; mode: number; uid?: number; gid?: number }
  | { type: "dir"; path: string; mode: number; uid?: number; gid?: number }
  | { type: "symlink"; path: string; target: string; uid?: number; gid?: number };

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function splitName(name: string): { name: string; prefix: string } {
  if (Buffer.byteLength(name) <= 100) return { name, prefix: "" };
  for (let i = name.lastIndexOf("/"); i > 0; i = name.lastIndexOf("/", i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return { name: rest, prefix };
  }
  throw new Error(`path too long for a ustar archive: ${name}`);
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const rel = entry.path.replace(/^\/+/, "") + (entry.type === "dir" ? "/" : "");
  const { name, prefix } = splitName(rel);
  h.write(name, 0, 100, "utf8");
  const mode = entry.type === "symlink" ? 0o777 : entry.mode;
  h.write(octal(mode & 0o7777, 8), 100, 8, "ascii");
  h.write(octal(entry.uid ?? 0, 8), 108, 8, "ascii");
  h.write(octal(entry.gid ?? 0, 8), 116, 8, "ascii");
  h.write(octal(size, 12), 124, 12, "ascii");
  h.write(octal(0, 12), 136, 12, "ascii");
  h.write("        ", 148, 8, "ascii");
  h.write(entry.type === "file" ? "0" : entry.type === "dir" ? "5" : "2", 156, 1, "ascii");
  if (entry.type === "symlink") h.write(entry.target, 157, 100, "utf8");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(octal(sum, 7), 148, 7, "ascii");
  h.write(" ", 155, 1, "ascii");
  return h;
}

/** A POSIX ustar archive of the entries, in order (parents before children). Pure. */
export function createTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (entry.type === "symlink" && Buffer.byteLength(entry.target) > 100) throw new Error(`symlink target too long: ${entry.target}`);
    const body = entry.type === "file" ? Buffer.from(entry.content) : Buffer.alloc(0);
    parts.push(header(entry, body.length), body);
    const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/**
 * Entries for a host folder placed at `guestDir` (files, folders, symlinks; modes kept).
 * `skip` gets each path relative to the folder.
 */
export async function folderEntries(hostDir: string, guestDir: string, skip: (relative: string) => boolean = () => false): Promise<TarEntry[]> {
  const out: TarEntry[] = [{ type: "dir", path: guestDir, mode: (await lstat(hostDir)).mode & 0o7777 }];
  async function walk(rel: string): Promise<void> {
    const names = (await readdir(path.join(hostDir, rel))).sort();
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      if (skip(childRel)) continue;
      const full = path.join(hostDir, childRel);
      const st = await lstat(full);
      const guestPath = `${guestDir}/${childRel}`;
      if (st.isSymbolicLink()) out.push({ type: "symlink", path: guestPath, target: await readlink(full) });
      else if (st.isDirectory()) {
        out.push({ type: "dir", path: guestPath, mode: st.mode & 0o7777 });
        await walk(childRel);
      } else if (st.isFile()) out.push({ type: "file", path: guestPath, content: await readFile(full), mode: st.mode & 0o7777 });
    }
  }
  await walk("");
  return out;
}
