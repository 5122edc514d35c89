// The default base of `bottle build` is a Node image from the user's registry. No registry
// is reachable here, so a STAND-IN for node:22-bookworm-slim is built locally (the offline
// base + the host's Node and npm + user node 1000, the layout of the official image) and
// named with --base-image semantics (present locally → not pulled). The CLI's packed
// recipes are then built on it under test-only tags, and what the images need is checked.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildImages, type BuiltImage } from "@bottle/backend-docker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCaBundle, recipeDir } from "./images.js";

const STANDIN = "bottle-test/node-standin:22-bookworm-slim";
const TAGS = { agent: "bottle-test/agent:registry-base", sidecars: "bottle-test/sidecars:registry-base" };
let built: BuiltImage[];

function docker(args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).trim();
}

beforeAll(async () => {
  const ctx = mkdtempSync(path.join(os.tmpdir(), "bottle-node-standin-"));
  try {
    copyFileSync(process.execPath, path.join(ctx, "node"));
    const npmDir = path.resolve(path.dirname(process.execPath), "..", "lib", "node_modules");
    execFileSync("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-C", npmDir, "-cf", path.join(ctx, "npm.tar"), "npm"]);
    writeFileSync(
      path.join(ctx, "Dockerfile"),
      [
        "FROM bottle/base:bookworm",
        "COPY node /usr/local/bin/node",
        "ADD npm.tar /usr/local/lib/node_modules/",
        "RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\",
        " && groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home --shell /bin/bash node",
        'LABEL dev.bottle.test=1 org.opencontainers.image.title="stand-in for node:22-bookworm-slim"',
        'CMD ["node"]',
        "",
      ].join("\n"),
    );
    docker(["build", "-q", "-t", STANDIN, ctx]);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  const extraCaBundle = buildCaBundle();
  built = await buildImages({
    recipeDir: recipeDir(),
    base: { kind: "registry", image: STANDIN },
    tags: TAGS,
    labels: { "dev.bottle.test": "1" },
    ...(extraCaBundle ? { extraCaBundle } : {}),
  });
}, 900_000);

afterAll(() => {
  // the test's own tags only; their layers stay as build cache for the next run
  for (const tag of Object.values(TAGS)) execFileSync("docker", ["rmi", "--no-prune", tag], { stdio: "ignore" });
});

describe("bottle build on a registry Node base (stand-in image: no registry here)", () => {
  it("builds both images from the packed recipes without copying the host's Node in", () => {
    expect(built.map((b) => b.tag).sort()).toEqual([TAGS.agent, TAGS.sidecars].sort());
    for (const tag of Object.values(TAGS)) {
      expect(docker(["image", "inspect", "--format", '{{ index .Config.Labels "dev.bottle.base" }}', tag])).toBe(STANDIN);
      // the layers the recipe added (history above the base's) copy no Node in: it came with the base
      const history = (image: string) => docker(["history", "--no-trunc", "--format", "{{.CreatedBy}}", image]).split("\n");
      const added = history(tag).slice(0, -history(STANDIN).length);
      expect(added.length).toBeGreaterThan(3);
      expect(added.join("\n")).not.toMatch(/ in \/usr\/local\/bin\/node|npm\.tar|node_modules\/ $/m);
    }
  });

  it("agent: the base's user node (1000) is kept, Claude Code and git are there", () => {
    const out = docker(["run", "--rm", "--entrypoint", "sh", TAGS.agent, "-c", "id -u; echo $HOME; pwd; node --version; claude --version; git --version"]);
    const [uid, home, cwd, node, claude, git] = out.split("\n");
    expect({ uid, home, cwd }).toEqual({ uid: "1000", home: "/home/node", cwd: "/workspace" });
    expect(node).toMatch(/^v\d+\./);
    expect(claude).toMatch(/\d+\.\d+\.\d+/);
    expect(git).toMatch(/^git version/);
  });

  it("sidecars: the bins run on the base's Node", () => {
    const out = docker(["run", "--rm", "--entrypoint", "sh", TAGS.sidecars, "-c", "for b in bottle-supervisor bottle-egress bottle-scan bottle-supervise; do command -v $b; done; bottle-scan --help >/dev/null 2>&1; echo scan=$?"]);
    expect(out).toContain("scan=0");
    expect(out.split("\n").slice(0, 4)).toEqual(["/usr/local/bin/bottle-supervisor", "/usr/local/bin/bottle-egress", "/usr/local/bin/bottle-scan", "/usr/local/bin/bottle-supervise"]);
  });
});
