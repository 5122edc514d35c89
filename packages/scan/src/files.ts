import { readFileSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { isBinary, type Finding, type Scanner } from "./scanner.js";

export interface FileScanResult {
  findings: Finding[];
  files: number;
  bytes: number;
}

async function* walk(path: string): AsyncGenerator<string> {
  const info = await stat(path);
  if (!info.isDirectory()) {
    yield path;
    return;
  }
  const entries = await readdir(path, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name === ".git") continue;
    const child = join(path, entry.name);
    if (entry.isDirectory()) yield* walk(child);
    else if (entry.isFile()) yield child;
  }
}

/** Scans files (directories recursively, `.git` skipped) in one process, batching small files. */
export async function scanFiles(paths: string[], scanner: Scanner): Promise<FileScanResult> {
  const batch = scanner.batch();
  const result: FileScanResult = { findings: [], files: 0, bytes: 0 };
  for (const root of paths) {
    for await (const path of walk(root)) {
      // Synchronous: one small read per file beats several thread-pool round trips.
      const content = readFileSync(path);
      result.files++;
      result.bytes += content.length;
      const found = isBinary(content)
        ? await scanner.scanBuffer(content, { path })
        : await batch.add({ path, text: content.toString("utf8") });
      result.findings.push(...found);
    }
  }
  result.findings.push(...(await batch.flush()));
  return result;
}
