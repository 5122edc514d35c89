/** All user-facing output goes through here so commands stay testable. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  json(value: unknown): void;
}

export const processOutput: Output = {
  out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
  json: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
};
