#!/usr/bin/env node
// Enforces the layering of ARCHITECTURE.md: pure planning below, renderers, then
// backends (which never import each other), then the CLI. Reads package.json
// dependencies and the import statements of every source file.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROLES = {
  "@bottle/errors": "core",
  "@bottle/manifest": "core",
  "@bottle/plan": "core",
  "@bottle/ca": "renderer",
  "@bottle/scan": "renderer",
  "@bottle/egress": "renderer",
  "@bottle/git-gate-render": "renderer",
  "@bottle/pipelock": "renderer",
  "@bottle/supervisor": "runtime",
  "@bottle/supervise": "runtime",
  "@bottle/state": "runtime",
  "@bottle/audit": "runtime",
  "@bottle/backend": "contract",
  "@bottle/backend-docker": "backend",
  "@bottle/backend-smolvm": "backend",
  "@bottle/test-utils": "test",
  "@bottle/cli": "app",
};

// which roles each role may import
const ALLOWED = {
  core: ["core"],
  renderer: ["core", "renderer"],
  runtime: ["core", "renderer", "runtime"],
  // the backend contract: platform-neutral, below every backend
  contract: ["core", "runtime"],
  // backends implement the contract and never import each other
  backend: ["core", "renderer", "runtime", "contract"],
  app: ["core", "renderer", "runtime", "contract", "backend"],
  test: ["core", "renderer", "runtime"],
};

const IMPORT_RE = /(?:from\s+|import\s*\(\s*|import\s+|require\s*\(\s*)["']([^"']+)["']/g;

function walk(dir, out = []) {
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules" || entry === "dist" || entry === "__fixtures__") continue;
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (/\.(ts|mts|js|mjs)$/.test(entry)) out.push(full);
  }
  return out;
}

/** Returns the packages of the workspace: name, dir, declared deps, source files. */
export function readWorkspace(root) {
  const packages = [];
  for (const group of ["packages", "apps", "tools"]) {
    const base = path.join(root, group);
    let entries = [];
    try {
      entries = readdirSync(base);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const dir = path.join(base, entry);
      let pkg;
      try {
        pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
      } catch {
        continue;
      }
      const srcDir = path.join(dir, "src");
      let files = [];
      try {
        files = walk(srcDir);
      } catch {}
      packages.push({ name: pkg.name, dir, deps: Object.keys(pkg.dependencies ?? {}), devDeps: Object.keys(pkg.devDependencies ?? {}), files });
    }
  }
  return packages;
}

const isTestFile = (file) => /\.(int\.)?test\.(ts|mts|js|mjs)$/.test(file) || file.includes(`${path.sep}__fixtures__${path.sep}`);

export function checkWorkspace(root) {
  const packages = readWorkspace(root);
  const byName = new Map(packages.map((p) => [p.name, p]));
  const violations = [];
  const graph = new Map();

  for (const pkg of packages) {
    const role = ROLES[pkg.name];
    if (!role) {
      violations.push(`${pkg.name}: no role assigned in tools/check-deps.mjs (add it to ROLES)`);
      continue;
    }
    const edges = new Set();
    for (const dep of pkg.deps.filter((d) => d.startsWith("@bottle/"))) {
      edges.add(dep);
      const depRole = ROLES[dep];
      if (depRole && !ALLOWED[role].includes(depRole)) {
        violations.push(`${pkg.name} (${role}) depends on ${dep} (${depRole}): ${role}s may only use ${ALLOWED[role].join(", ")}`);
      }
    }
    graph.set(pkg.name, edges);

    for (const file of pkg.files) {
      const rel = path.relative(root, file);
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(IMPORT_RE)) {
        const spec = match[1];
        if (/^@bottle\/[^/]+\/src(\/|$)/.test(spec)) violations.push(`${rel}: imports another package's internals "${spec}"; import its public entry`);
        if (spec.startsWith(".")) {
          const target = path.resolve(path.dirname(file), spec);
          if (!target.startsWith(pkg.dir + path.sep)) violations.push(`${rel}: relative import "${spec}" leaves the package; depend on the package instead`);
          continue;
        }
        const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
        if (!name.startsWith("@bottle/") || name === pkg.name) continue;
        if (!byName.has(name)) {
          violations.push(`${rel}: imports unknown workspace package ${name}`);
          continue;
        }
        const test = isTestFile(file);
        if (name === "@bottle/test-utils" && !test) violations.push(`${rel}: production code imports @bottle/test-utils`);
        const declared = pkg.deps.includes(name) || (test && pkg.devDeps.includes(name));
        if (!declared && !(test && name === "@bottle/test-utils")) violations.push(`${rel}: imports ${name} but ${pkg.name}/package.json does not declare it`);
        const depRole = ROLES[name];
        if (!test && depRole && !ALLOWED[role].includes(depRole)) violations.push(`${rel}: ${role} code imports ${name} (${depRole})`);
      }
    }
  }

  for (const cycle of findCycles(graph)) violations.push(`dependency cycle: ${cycle.join(" → ")}`);
  return violations;
}

export function findCycles(graph) {
  const cycles = [];
  const state = new Map();
  const stack = [];
  const visit = (node) => {
    state.set(node, "active");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "active") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const violations = checkWorkspace(root);
  if (violations.length > 0) {
    console.error(`dependency rules: ${violations.length} violation${violations.length === 1 ? "" : "s"}\n  ${violations.join("\n  ")}`);
    process.exitCode = 1;
  } else {
    console.log(`dependency rules: ok (${readWorkspace(root).length} packages)`);
  }
}
