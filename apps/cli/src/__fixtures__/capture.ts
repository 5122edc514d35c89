import type { Output } from "../index.js";

/** An Output that keeps what the CLI printed, for assertions. */
export function capture(): Output & { stdout: string; stderr: string } {
  const o = {
    stdout: "",
    stderr: "",
    out: (t: string) => void (o.stdout += `${t}\n`),
    err: (t: string) => void (o.stderr += `${t}\n`),
    json: (v: unknown) => void (o.stdout += `${JSON.stringify(v, null, 2)}\n`),
  };
  return o;
}
