import type { BottleRef } from "./contract.js";

/** The slug a BottleRef names. */
export function slugOf(ref: BottleRef): string {
  return typeof ref === "string" ? ref : ref.slug;
}
