import { readFile } from "node:fs/promises";

/**
 * Reads a secrets.json (`{"<id>": "<value>"}`). Errors name the file, never a value.
 */
export async function loadKnownSecrets(path: string): Promise<Record<string, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? "not valid JSON";
    throw new Error(`cannot read secrets file ${path} (${reason})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`secrets file ${path} must be a JSON object of id → string value`);
  }
  const out: Record<string, string> = {};
  for (const [id, value] of Object.entries(parsed)) {
    if (typeof value === "string") out[id] = value;
  }
  return out;
}
