import type { Options } from "tsup";

/** One shared tsup shape for every package: ESM, declarations, node20. */
export function packageBuild(entry: Record<string, string> | string[], extra: Partial<Options> = {}): Options {
  return {
    entry,
    format: ["esm"],
    target: "node20",
    platform: "node",
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: false,
    ...extra,
  };
}
