import { spawn } from "node:child_process";
import type { Finding, Scanner, ScanBatch, TextItem } from "./scanner.js";

export interface GitScanOptions {
  /** Repository (bare or .git directory); default: git's own discovery from the current directory. */
  gitDir?: string;
  /** Revision arguments as for `git rev-list`, e.g. `[new, "--not", "--all"]` or `["a..b"]`. */
  revisions: string[];
  scanner: Scanner;
  /** Where texts go; default `scanner.batch()`. */
  batch?: ScanBatch;
  git?: string;
  /** Environment for git (the pre-receive hook passes its quarantine variables through). */
  env?: NodeJS.ProcessEnv;
}

export interface GitScanResult {
  findings: Finding[];
  commits: number;
  files: number;
  /** Characters of added text scanned (commit messages included). */
  bytes: number;
  binaryBlobs: number;
  /** New blobs no commit diff showed (e.g. behind a tag pointing at a blob or a tree), scanned whole. */
  looseBlobs: number;
}

const ZERO = /^0+$/;
/** Where commit messages are reported. */
export const COMMIT_MESSAGE_PATH = "(commit message)";

/**
 * Scans what the given commits add: the added lines of every text file (`git log -p -U0`;
 * merges as a dense combined diff, so lines no parent had — an "evil merge" — are seen
 * while lines taken from a parent are not scanned again), the commit messages and
 * authors, annotated tag messages, and every binary blob the commits add (checked for
 * known secret values only). Streams: memory stays bounded by the scanner's batch size plus
 * the largest single file's added lines.
 */
export async function scanGitRevisions(options: GitScanOptions): Promise<GitScanResult> {
  const git = options.git ?? "git";
  const { scanner } = options;
  const batch = options.batch ?? scanner.batch();
  const findings: Finding[] = [];
  const binaries: { sha: string; path: string; commit: string }[] = [];
  const result: GitScanResult = { findings, commits: 0, files: 0, bytes: 0, binaryBlobs: 0, looseBlobs: 0 };
  // Replace objects would let a pushed `refs/replace/*` show the scanner other content
  // than the objects that are forwarded: read the real objects only.
  const env = { ...(options.env ?? process.env), GIT_NO_REPLACE_OBJECTS: "1" };
  /** Blobs whose content the commit diffs showed (added lines or binary): not read again. */
  const diffBlobs = new Set<string>();
  const maxItem = 1 << 20;

  let commit = "";
  let mode: "header" | "message" | "hunk" = "header";
  let message: string[] = [];
  let path = "";
  let newSha = "";
  let lines: string[] = [];
  let numbers: number[] = [];
  let pending = 0;
  let newLine = 0;
  let columns = 1;
  let plus = "+";

  // Parsing is synchronous; texts queue up and are scanned between chunks of git's output.
  let queue: TextItem[] = [];
  let queued = 0;
  const add = (item: TextItem): void => {
    result.bytes += item.text.length;
    queue.push(item);
    queued += item.text.length;
  };
  const drain = async (): Promise<void> => {
    const items = queue;
    queue = [];
    queued = 0;
    for (const item of items) for (const f of await batch.add(item)) findings.push(f);
  };
  const endFile = (): void => {
    if (lines.length > 0) add({ path, text: lines.join("\n"), lines: numbers, commit });
    lines = [];
    numbers = [];
    pending = 0;
  };
  const endMessage = (): void => {
    const text = message.join("\n");
    message = [];
    if (text.trim() !== "") add({ path: COMMIT_MESSAGE_PATH, text, commit });
  };

  const onLine = (line: string): void => {
    if (mode === "message") {
      if (line.endsWith("\0\0")) {
        message.push(line.slice(0, -2));
        mode = "header";
        endMessage();
      } else message.push(line);
      return;
    }
    if (mode === "hunk") {
      const c = line.charCodeAt(0);
      // Hunk lines start with one prefix column per parent (' ', '+' or '-'); anything
      // else ends the hunk and is a header line.
      if (c === 43 /* + */ || c === 45 /* - */ || c === 32 /* space */) {
        const prefix = line.slice(0, columns);
        if (prefix.includes("-")) return; // removed: not in the pushed file
        if (prefix === plus) {
          // Added against every parent: new content (for merges, what no parent had).
          lines.push(line.slice(columns));
          numbers.push(newLine);
          pending += line.length;
          if (pending >= maxItem) {
            const nextPath = path;
            endFile();
            path = nextPath;
          }
        }
        newLine++;
        return;
      }
      if (c === 92 /* \ No newline at end of file */) return;
      mode = "header";
    }
    if (line.startsWith("\0\0commit ")) {
      endFile();
      commit = line.slice(9).trim();
      result.commits++;
      mode = "message";
      return;
    }
    if (line.startsWith("diff --git ") || line.startsWith("diff --cc ")) {
      endFile();
      result.files++;
      path = "";
      newSha = "";
      return;
    }
    if (line.startsWith("index ")) {
      const m = /^index [0-9a-f,]+\.\.([0-9a-f]+)/.exec(line);
      newSha = m?.[1] ?? "";
      if (newSha) diffBlobs.add(newSha);
      return;
    }
    if (line.startsWith("+++ ")) {
      // git appends a TAB to names that contain a space (for patch(1)).
      path = unquote(line.slice(4).replace(/\t$/, "")).replace(/^b\//, "");
      return;
    }
    if (line.startsWith("Binary files ")) {
      const m = / and (?:"?b\/)?(.*?)"? differ$/.exec(line);
      if (newSha && !ZERO.test(newSha)) binaries.push({ sha: newSha, path: m?.[1] ?? newSha, commit });
      return;
    }
    if (line.startsWith("@@")) {
      // `@@ -a,b +c,d @@`, or for a merge with n parents `@@@ -a,b -c,d +e,f @@@` (n+1 @).
      const m = /^(@@+) (?:-\d+(?:,\d+)? )+\+(\d+)(?:,\d+)? @@+/.exec(line);
      if (!m) return;
      columns = m[1]!.length - 1;
      plus = "+".repeat(columns);
      newLine = Number(m[2]);
      mode = "hunk";
    }
  };

  const gitDirArgs = options.gitDir === undefined ? [] : ["--git-dir", options.gitDir];
  const args = [
    ...gitDirArgs,
    "-c",
    "core.quotePath=false",
    "--no-replace-objects",
    "log",
    "-p",
    "-U0",
    "-M",
    "--full-index",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--diff-merges=dense-combined",
    "--format=%x00%x00commit %H%nAuthor: %an <%ae>%nCommitter: %cn <%ce>%n%B%x00%x00",
    ...options.revisions,
    "--",
  ];
  await streamLines(git, args, env, onLine, async () => {
    if (queued >= maxItem) await drain();
  });
  endFile();
  if ((mode as string) === "message") endMessage();
  await drain();
  for (const f of await batch.flush()) findings.push(f);

  if (binaries.length > 0) {
    result.binaryBlobs = binaries.length;
    await readObjects(git, gitDirArgs, binaries.map((b) => b.sha), env, async (index, _type, content) => {
      const blob = binaries[index]!;
      for (const f of await scanner.scanBuffer(content, { path: blob.path, commit: blob.commit })) findings.push(f);
    });
  }

  // Every other new blob, whatever points at it (a tag at a blob or a tree, a tree only a
  // tag reaches): the whole content is new to the upstream.
  const loose = (await newObjects(git, gitDirArgs, options.revisions, env)).filter((o) => o.type === "blob" && !diffBlobs.has(o.sha));
  if (loose.length > 0) {
    result.looseBlobs = loose.length;
    await readObjects(git, gitDirArgs, loose.map((o) => o.sha), env, async (index, _type, content) => {
      const blob = loose[index]!;
      result.bytes += content.length;
      for (const f of await scanner.scanBuffer(content, { path: blob.path || `(blob ${blob.sha.slice(0, 12)})` })) findings.push(f);
    });
  }

  // Annotated tags among the tips carry a message (and tagger) of their own.
  let tips = positiveTips(options.revisions);
  for (let depth = 0; tips.length > 0 && depth < 8; depth++) {
    const next: string[] = [];
    await readObjects(git, gitDirArgs, tips, env, async (index, type, content) => {
      if (type !== "tag") return;
      const text = content.toString("utf8");
      const target = /^object ([0-9a-f]+)$/m.exec(text)?.[1];
      if (target) next.push(target);
      for (const f of await scanner.scanText(text, { path: `(tag ${tips[index]!.slice(0, 12)})` })) findings.push(f);
    });
    tips = next;
  }
  return result;
}

/** Objects the revisions reach that the excluded ones do not (`git rev-list --objects`), with their types. */
async function newObjects(
  git: string,
  gitDirArgs: string[],
  revisions: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ sha: string; type: string; path: string }[]> {
  const listed: { sha: string; path: string }[] = [];
  await streamLines(git, [...gitDirArgs, "--no-replace-objects", "rev-list", "--objects", ...revisions, "--"], env, (line) => {
    if (line === "") return;
    const space = line.indexOf(" ");
    listed.push(space === -1 ? { sha: line, path: "" } : { sha: line.slice(0, space), path: line.slice(space + 1) });
  }, async () => {});
  if (listed.length === 0) return [];
  const types = await batchCheck(git, gitDirArgs, listed.map((o) => o.sha), env);
  return listed.map((o, i) => ({ ...o, type: types[i] ?? "missing" }));
}

async function batchCheck(git: string, gitDirArgs: string[], shas: string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const child = spawn(git, [...gitDirArgs, "--no-replace-objects", "cat-file", "--batch-check=%(objecttype)"], { env, stdio: ["pipe", "pipe", "pipe"] });
  const exited = new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? 1));
  });
  child.stdin.end(shas.map((s) => `${s}\n`).join(""));
  child.stdout.setEncoding("utf8");
  let out = "";
  for await (const chunk of child.stdout as AsyncIterable<string>) out += chunk;
  const code = await exited;
  if (code !== 0) throw new Error(`git cat-file --batch-check failed (exit ${code})`);
  // `<sha> missing` for absent objects: its second word is not a type.
  return out.split("\n").slice(0, shas.length).map((line) => (line.includes(" ") ? "missing" : line));
}

function unquote(path: string): string {
  if (path.startsWith('"') && path.endsWith('"')) {
    try {
      return JSON.parse(path) as string;
    } catch {
      return path.slice(1, -1);
    }
  }
  return path;
}

async function streamLines(
  git: string,
  args: string[],
  env: NodeJS.ProcessEnv | undefined,
  onLine: (line: string) => void,
  afterChunk: () => Promise<void>,
): Promise<void> {
  const child = spawn(git, args, { env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    if (stderr.length < 4000) stderr += d;
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? 1));
  });
  child.stdout.setEncoding("utf8");
  let rest = "";
  for await (const chunk of child.stdout as AsyncIterable<string>) {
    const text = rest + chunk;
    let start = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
      onLine(text.slice(start, nl));
      start = nl + 1;
    }
    rest = text.slice(start);
    await afterChunk();
  }
  if (rest !== "") onLine(rest);
  const code = await exited;
  if (code !== 0) throw new Error(`git ${args.find((a) => a === "log" || a === "rev-list") ?? args[0]} failed (exit ${code}): ${stderr.trim()}`);
}

/** The revisions a rev-list argument list includes (not the excluded ones, not options). */
function positiveTips(revisions: string[]): string[] {
  const tips: string[] = [];
  let negated = false;
  for (const arg of revisions) {
    if (arg === "--not") negated = !negated;
    else if (arg.startsWith("-") || arg.startsWith("^") || arg.includes("...")) continue;
    else if (arg.includes("..")) tips.push(arg.slice(arg.indexOf("..") + 2) || "HEAD");
    else if (!negated) tips.push(arg);
  }
  return tips;
}

/** `git cat-file --batch`: one process for all objects, parsed as a byte stream. */
async function readObjects(
  git: string,
  gitDirArgs: string[],
  shas: string[],
  env: NodeJS.ProcessEnv | undefined,
  onObject: (index: number, type: string, content: Buffer) => Promise<void>,
): Promise<void> {
  const child = spawn(git, [...gitDirArgs, "--no-replace-objects", "cat-file", "--batch"], {
    env: env ?? process.env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? 1));
  });
  child.stdin.end(shas.map((s) => `${s}\n`).join(""));
  let chunks: Buffer[] = [];
  let total = 0;
  let type = "";
  let need = -1; // body bytes (+ trailing LF) still expected for the current blob, -1 = reading a header
  let index = 0;
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    total += chunk.length;
    for (;;) {
      if (need === -1) {
        const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
        chunks = [buffer];
        const nl = buffer.indexOf(10);
        if (nl === -1) break;
        const header = buffer.subarray(0, nl).toString("utf8");
        const rest = buffer.subarray(nl + 1);
        chunks = [rest];
        total = rest.length;
        const m = /^\S+ (\S+) (\d+)$/.exec(header);
        if (!m) {
          // `<sha> missing`: nothing to scan.
          index++;
          continue;
        }
        type = m[1]!;
        need = Number(m[2]) + 1;
      }
      if (total < need) break;
      const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      const size = need - 1;
      await onObject(index++, type, buffer.subarray(0, size));
      const rest = buffer.subarray(need);
      chunks = [rest];
      total = rest.length;
      need = -1;
    }
  }
  const code = await exited;
  if (code !== 0) throw new Error(`git cat-file failed (exit ${code})`);
}

