import { closeSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export type AuditDecision = "allow" | "redact" | "deny" | "block-leak" | "block-pattern" | "error";

/** One line of `audit/egress.jsonl`. Never carries secret values, query strings or bodies. */
export interface AuditRecord {
  time: string;
  id: string;
  client: string;
  kind: "request" | "tunnel" | "websocket";
  method: string;
  host: string;
  port: number;
  path: string;
  decision: AuditDecision;
  route: string | null;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  /** Why a request was refused: `host`, `method`, `path`, a secret id, a secretlint rule id. */
  reason?: string;
  /** `redact`: findings replaced by markers before forwarding, by secretlint rule id or secret id (never values). */
  redactions?: Array<{ kind: "pattern" | "secret"; id: string; count: number }>;
}

export interface AuditTrail {
  write(record: AuditRecord): void;
  /** Writes out buffered lines now. */
  flush(): void;
  close(): Promise<void>;
}

/** Lines are batched for at most this long (one write per batch instead of one per request). */
const FLUSH_MS = 50;
const FLUSH_BYTES = 64 * 1024;

/**
 * JSON-lines writer that renames the file to `<file>.1` once it would grow past `maxBytes`.
 * Batches are written synchronously (page cache, microseconds), so rotation is exact.
 */
export function openAuditTrail(file: string, maxBytes = 64 * 1024 * 1024): AuditTrail {
  mkdirSync(dirname(file), { recursive: true });
  let fd = openSync(file, "a", 0o600);
  let size = fstatSync(fd).size;
  let pending: string[] = [];
  let pendingBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const writeOut = (text: string) => {
    if (text.length === 0) return;
    try {
      writeSync(fd, text);
    } catch (e) {
      process.stderr.write(`egress: audit write failed: ${(e as Error).message}\n`);
    }
  };
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (closed) return;
    let batch = "";
    for (const line of pending) {
      const bytes = Buffer.byteLength(line);
      if (size > 0 && size + bytes > maxBytes) {
        writeOut(batch);
        batch = "";
        closeSync(fd);
        try {
          renameSync(file, `${file}.1`);
        } catch (e) {
          process.stderr.write(`egress: audit rotation failed: ${(e as Error).message}\n`);
        }
        fd = openSync(file, "a", 0o600);
        size = 0;
      }
      size += bytes;
      batch += line;
    }
    writeOut(batch);
    pending = [];
    pendingBytes = 0;
  };

  return {
    write(record) {
      if (closed) return;
      const line = JSON.stringify(record) + "\n";
      pending.push(line);
      pendingBytes += line.length;
      if (pendingBytes >= FLUSH_BYTES) flush();
      else timer ??= setTimeout(flush, FLUSH_MS).unref();
    },
    flush,
    async close() {
      flush();
      closed = true;
      closeSync(fd);
    },
  };
}

export const nullAuditTrail: AuditTrail = { write() {}, flush() {}, close: async () => {} };
