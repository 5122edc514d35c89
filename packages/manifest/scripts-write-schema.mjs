// Writes dist/bottle.schema.json from the built package, so editors can point `$schema` at it.
import { writeFileSync } from "node:fs";
import { manifestJsonSchema } from "./dist/index.js";

writeFileSync(new URL("./dist/bottle.schema.json", import.meta.url), JSON.stringify(manifestJsonSchema(), null, 2) + "\n");
