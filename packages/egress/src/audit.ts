import { createWriteStream, mkdirSync, renameSync, statSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";

export type AuditDecision = "allow" | "deny" | "block-leak" | "block-pattern" | "error";

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
}

export interface AuditTrail {
  write(record: AuditRecord): void;
  close(): Promise<void>;
}

/** JSON-lines writer that renames the file to `<file>.1` once it grows past `maxBytes`. */
export function openAuditTrail(file: string, maxBytes = 64 * 1024 * 1024): AuditTrail {
  mkdirSync(dirname(file), { recursive: true });
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    size = 0;
  }
  let stream: WriteStream = createWriteStream(file, { flags: "a", mode: 0o600 });
  stream.on("error", (e) => process.stderr.write(`egress: audit write failed: ${e.message}\n`));
  return {
    write(record) {
      const line = JSON.stringify(record) + "\n";
      if (size > 0 && size + line.length > maxBytes) {
        const old = stream;
        old.end();
        try {
          renameSync(file, `${file}.1`);
        } catch (e) {
          process.stderr.write(`egress: audit rotation failed: ${(e as Error).message}\n`);
        }
        stream = createWriteStream(file, { flags: "a", mode: 0o600 });
        stream.on("error", (e) => process.stderr.write(`egress: audit write failed: ${e.message}\n`));
        size = 0;
      }
      size += Buffer.byteLength(line);
      stream.write(line);
    },
    close() {
      return new Promise((resolve) => stream.end(resolve));
    },
  };
}

export const nullAuditTrail: AuditTrail = { write() {}, close: async () => {} };
