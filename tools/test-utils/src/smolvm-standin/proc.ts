import { spawn } from "node:child_process";

export interface ProcResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a program (no shell). `inherit` connects the caller's stdio; otherwise output is captured. */
export function runProcess(file: string, args: string[], o: { input?: string | Buffer; inherit?: boolean } = {}): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: o.inherit ? "inherit" : [o.input !== undefined ? "pipe" : "ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (d: Buffer) => out.push(d));
    child.stderr?.on("data", (d: Buffer) => err.push(d));
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({ exitCode: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }),
    );
    if (o.input !== undefined) child.stdin?.end(o.input);
  });
}
