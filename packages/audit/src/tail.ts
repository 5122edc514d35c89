import { open, stat } from "node:fs/promises";
import { BottleError } from "@bottle/errors";

/**
 * Reads a JSON-lines file incrementally: each `read()` returns the complete lines added
 * since the last one. A file that shrank or was replaced (egress rotates to `<file>.1`)
 * is read again from the start. Malformed lines are skipped: a reader never fails on a
 * line a sidecar half-wrote.
 */
export class JsonlTail<T> {
  private offset = 0;
  private ino = -1;
  private partial = "";

  constructor(private readonly file: string) {}

  async read(): Promise<T[]> {
    let info;
    try {
      info = await stat(this.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw unreadable(this.file, error);
    }
    if (info.ino !== this.ino || info.size < this.offset) {
      this.ino = info.ino;
      this.offset = 0;
      this.partial = "";
    }
    if (info.size === this.offset) return [];
    const handle = await open(this.file, "r").catch((error: unknown) => {
      throw unreadable(this.file, error);
    });
    let text: string;
    try {
      const length = info.size - this.offset;
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, this.offset);
      this.offset += bytesRead;
      text = this.partial + buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await handle.close();
    }
    const lines = text.split("\n");
    this.partial = lines.pop() ?? "";
    const out: T[] = [];
    for (const line of lines) {
      if (line.trim() === "") continue;
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        // half-written or foreign line
      }
    }
    return out;
  }
}

function unreadable(file: string, cause: unknown): BottleError {
  return new BottleError(`cannot read the audit file ${file}: ${(cause as Error).message}`, {
    code: "AUDIT_UNREADABLE",
    hint: "the sidecars write it as root inside the bundle; run bottle as the user that started the bottle, or with sudo",
    cause,
  });
}
