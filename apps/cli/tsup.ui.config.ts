import { defineConfig } from "tsup";

// The dashboard page: one script and one stylesheet, bundled for the browser and served
// by `bottle ui` from dist/ui (nothing is fetched from anywhere else).
export default defineConfig({
  entry: { app: "src/ui/page/app.ts" },
  outDir: "dist/ui",
  format: ["iife"],
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: false,
  dts: false,
  clean: true,
  splitting: false,
  outExtension: () => ({ js: ".js" }),
});
