import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkPacked } from "./publish-check.mjs";

const tmp = mkdtempSync(path.join(tmpdir(), "publish-check-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let count = 0;
/** A tarball laid out like `pnpm pack` writes it (package/…). */
function tarball(manifest, files = {}) {
  const root = path.join(tmp, String(count++));
  const dir = path.join(root, "package");
  mkdirSync(path.join(dir, "dist"), { recursive: true });
  writeFileSync(path.join(dir, "package.json"), JSON.stringify(manifest));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const file = path.join(root, "p.tgz");
  execFileSync("tar", ["-czf", file, "-C", root, "package"]);
  return file;
}

const good = {
  name: "@bottle/good",
  version: "1.0.0",
  license: "Apache-2.0",
  repository: { type: "git", url: "git+https://example.invalid/b.git" },
  engines: { node: ">=20.11" },
  files: ["dist"],
  exports: { ".": { types: "./dist/index.d.ts", import: "./dist/index.js" } },
  bin: { good: "./dist/index.js" },
  dependencies: { zod: "^4.0.0" },
};
const goodFiles = {
  "README.md": "# good\n",
  "dist/index.js": 'import { z } from "zod";\nimport fs from "node:fs";\nimport path from "path";\nexport const x = await import("zod/v4");\n',
  "dist/index.d.ts": "export declare const x: unknown;\n",
};

describe("checkPacked", () => {
  it("passes a package fit to publish", () => {
    expect(checkPacked({ tarball: tarball(good, goodFiles), privateNames: new Set() }).problems).toEqual([]);
  });

  it("names every problem: workspace ranges, private deps, types not first, missing files and fields, undeclared imports", () => {
    const bad = {
      ...good,
      license: undefined,
      repository: undefined,
      exports: { ".": { import: "./dist/index.js", types: "./dist/missing.d.ts" } },
      bin: { good: "./dist/nope.js" },
      dependencies: { "@bottle/errors": "workspace:^", "@bottle/test-utils": "^1.0.0" },
    };
    const { problems } = checkPacked({ tarball: tarball(bad, { "dist/index.js": goodFiles["dist/index.js"] }), privateNames: new Set(["@bottle/test-utils"]) });
    expect(problems).toEqual(
      expect.arrayContaining([
        'dependencies.@bottle/errors is still "workspace:^"',
        "dependencies.@bottle/test-utils is a private workspace package",
        'no "license"',
        'no "repository"',
        'exports "." must list "types" first',
        'exports "." types → ./dist/missing.d.ts is not in the tarball',
        "bin good → ./dist/nope.js is not in the tarball",
        "no README.md in the tarball",
        'dist/index.js imports "zod", which is not a dependency',
        'dist/index.js imports "zod/v4", which is not a dependency',
      ]),
    );
  });
});
