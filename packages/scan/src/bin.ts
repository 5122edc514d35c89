#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createScanner, formatFindings, sortFindings, type Finding } from "./scanner.js";
import { scanGitRevisions } from "./git.js";
import { scanFiles } from "./files.js";
import { loadKnownSecrets } from "./secrets-file.js";

const USAGE = `usage:
  bottle-scan git   [--repo <gitdir>] [--range <old>..<new>]... [--ref <refname>]... [--secrets <secrets.json>] [--json] [-- <rev-list args>...]
  bottle-scan files [--secrets <secrets.json>] [--json] <path>...
  bottle-scan stdin [--path <name>] [--secrets <secrets.json>] [--json]

Scans added content with secretlint's recommended rules and for the bottle's known secret
values (raw, base64, base64url, hex, URL-encoded; each also as UTF-16). Exit 0: clean, 1: findings, 2: usage or
operational error. Output never contains a secret value.`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command !== "git" && command !== "files" && command !== "stdin") throw new UsageError(`unknown command: ${command ?? "(none)"}`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      repo: { type: "string" },
      range: { type: "string", multiple: true },
      ref: { type: "string", multiple: true },
      secrets: { type: "string" },
      path: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const secretsPath = values.secrets ?? process.env.BOTTLE_SCAN_SECRETS;
  const knownSecrets = secretsPath ? await loadKnownSecrets(secretsPath) : {};
  const scanner = createScanner({ knownSecrets });
  const started = performance.now();
  let findings: Finding[];
  let stats: Record<string, number>;

  if (command === "git") {
    const revisions = [...(values.range ?? []), ...positionals];
    if (revisions.length === 0) throw new UsageError("git: give --range <old>..<new> or revisions after --");
    const result = await scanGitRevisions({ ...(values.repo === undefined ? {} : { gitDir: values.repo }), revisions, scanner });
    findings = result.findings;
    // Ref names leave with the push too.
    if (values.ref && values.ref.length > 0) findings.push(...(await scanner.scanText(values.ref.join("\n"), { path: "(ref names)" })));
    stats = { commits: result.commits, files: result.files, bytes: result.bytes, binaryBlobs: result.binaryBlobs, looseBlobs: result.looseBlobs };
  } else if (command === "files") {
    if (positionals.length === 0) throw new UsageError("files: give at least one path");
    const result = await scanFiles(positionals, scanner);
    findings = result.findings;
    stats = { files: result.files, bytes: result.bytes };
  } else {
    const content = readFileSync(0);
    findings = await scanner.scanBuffer(content, { path: values.path ?? "(stdin)" });
    stats = { files: 1, bytes: content.length };
  }
  findings = sortFindings(findings);
  const seconds = (performance.now() - started) / 1000;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ findings, stats: { ...stats, seconds } })}\n`);
  } else if (findings.length > 0) {
    process.stdout.write(`${findings.length} secret finding(s):\n${formatFindings(findings)}\n`);
  }
  return findings.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    process.stderr.write(`bottle-scan: ${(error as Error).message}\n${usage ? `\n${USAGE}\n` : ""}`);
    process.exit(2);
  },
);
