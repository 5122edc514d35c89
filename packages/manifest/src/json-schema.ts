import { z } from "zod";
import { ManifestSchema } from "./schema.js";

/** JSON Schema (draft 2020-12) of bottle.json, for editors. */
export function manifestJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ManifestSchema, { io: "input", target: "draft-2020-12" }) as Record<string, unknown>;
  return { ...schema, $id: "https://bottle.dev/schema/bottle.json", title: "bottle.json" };
}
