import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkWorkspace, findCycles } from "./check-deps.mjs";

function workspace(packages) {
  const root = mkdtempSync(path.join(os.tmpdir(), "deps-"));
  for (const [dir, { name, deps = [], files = {} }] of Object.entries(packages)) {
    mkdirSync(path.join(root, dir, "src"), { recursive: true });
    writeFileSync(path.join(root, dir, "package.json"), JSON.stringify({ name, dependencies: Object.fromEntries(deps.map((d) => [d, "workspace:^"])) }));
    for (const [file, text] of Object.entries(files)) writeFileSync(path.join(root, dir, "src", file), text);
  }
  return root;
}

describe("check-deps", () => {
  it("passes a well-layered workspace", () => {
    const root = workspace({
      "packages/plan": { name: "@bottle/plan", files: { "index.ts": "export {}" } },
      "packages/backend-docker": { name: "@bottle/backend-docker", deps: ["@bottle/plan"], files: { "index.ts": 'import { x } from "@bottle/plan";' } },
    });
    expect(checkWorkspace(root)).toEqual([]);
  });

  it("fails when a backend imports another backend, or a renderer imports a backend", () => {
    const root = workspace({
      "packages/backend-docker": { name: "@bottle/backend-docker", files: { "index.ts": "export {}" } },
      "packages/backend-smolvm": { name: "@bottle/backend-smolvm", deps: ["@bottle/backend-docker"], files: { "index.ts": 'import "@bottle/backend-docker";' } },
      "packages/egress": { name: "@bottle/egress", deps: ["@bottle/backend-docker"], files: { "index.ts": 'export * from "@bottle/backend-docker";' } },
    });
    const violations = checkWorkspace(root).join("\n");
    expect(violations).toContain("@bottle/backend-smolvm (backend) depends on @bottle/backend-docker");
    expect(violations).toContain("@bottle/egress (renderer) depends on @bottle/backend-docker");
  });

  it("lets backends implement the contract package, which may import no backend and no renderer", () => {
    const root = workspace({
      "packages/plan": { name: "@bottle/plan", files: { "index.ts": "export {}" } },
      "packages/egress": { name: "@bottle/egress", files: { "index.ts": "export {}" } },
      "packages/backend": { name: "@bottle/backend", deps: ["@bottle/plan", "@bottle/backend-docker", "@bottle/egress"], files: { "index.ts": 'import "@bottle/plan"; import "@bottle/backend-docker"; import "@bottle/egress";' } },
      "packages/backend-docker": { name: "@bottle/backend-docker", deps: ["@bottle/backend"], files: { "index.ts": 'import "@bottle/backend";' } },
    });
    const violations = checkWorkspace(root);
    expect(violations).toContain("@bottle/backend (contract) depends on @bottle/backend-docker (backend): contracts may only use core, runtime");
    expect(violations).toContain("@bottle/backend (contract) depends on @bottle/egress (renderer): contracts may only use core, runtime");
    expect(violations.filter((v) => v.startsWith("@bottle/backend-docker"))).toEqual([]);
  });

  it("fails on imports of another package's src, undeclared deps, libraries importing the app", () => {
    const root = workspace({
      "apps/cli": { name: "@bottle/cli", files: { "index.ts": "export {}" } },
      "packages/plan": { name: "@bottle/plan", files: { "index.ts": 'import "@bottle/manifest/src/schema.js"; import "@bottle/cli";' } },
      "packages/manifest": { name: "@bottle/manifest", files: { "index.ts": 'import "../../plan/src/index.js";' } },
    });
    const violations = checkWorkspace(root).join("\n");
    expect(violations).toContain('imports another package\'s internals "@bottle/manifest/src/schema.js"');
    expect(violations).toContain("imports @bottle/cli but @bottle/plan/package.json does not declare it");
    expect(violations).toContain("core code imports @bottle/cli (app)");
    expect(violations).toContain('relative import "../../plan/src/index.js" leaves the package');
  });

  it("finds cycles", () => {
    expect(findCycles(new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])]]))).toEqual([["a", "b", "c", "a"]]);
    expect(findCycles(new Map([["a", new Set(["b"])], ["b", new Set()]]))).toEqual([]);
  });
});
