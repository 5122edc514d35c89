// The recipes the CLI carries (dist/images, written by `pnpm build`): each stages a
// complete build context for either base, without the repository.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { imageTags, recipeDir } from "./images.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "bottle-recipes-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function stage(name: "agent" | "sidecars", base: "offline" | "registry"): { files: string[]; dockerfile: string } {
  const out = path.join(tmp, `${name}-${base}`);
  execFileSync(process.execPath, [path.join(recipeDir(), name, "stage.mjs"), "--out", out, "--base", base], { cwd: tmp, stdio: "pipe" });
  return { files: readdirSync(out).sort(), dockerfile: readFileSync(path.join(out, "Dockerfile"), "utf8") };
}

describe("packed image recipes", () => {
  it("carry the base script, the stage scripts and the bundled sidecar bins", () => {
    const dir = recipeDir();
    expect(readdirSync(dir).sort()).toEqual(["agent", "base-image.sh", "images.json", "sidecars", "stage-lib.mjs"]);
    expect(readdirSync(path.join(dir, "sidecars", "bin")).sort()).toEqual(["bottle-egress", "bottle-scan", "bottle-supervise", "bottle-supervisor", "package.json"]);
  });

  it("tags carry the CLI version and a recipe hash", () => {
    const version = (JSON.parse(readFileSync(path.join(recipeDir(), "..", "..", "package.json"), "utf8")) as { version: string }).version;
    const tags = imageTags();
    expect(tags.agent).toMatch(new RegExp(`^bottle/agent:${version.replace(/\./g, "\\.")}-[0-9a-f]{12}$`));
    expect(tags.sidecars).toMatch(new RegExp(`^bottle/sidecars:${version.replace(/\./g, "\\.")}-[0-9a-f]{12}$`));
  });

  it("offline base: the host's Node (and npm for the agent) go into the context", () => {
    const agent = stage("agent", "offline");
    expect(agent.files).toEqual(["Dockerfile", "extra-ca.pem", "node", "npm.tar"]);
    expect(agent.dockerfile).toContain("COPY node /usr/local/bin/node");
    const sidecars = stage("sidecars", "offline");
    expect(sidecars.files).toEqual(["Dockerfile", "bin", "extra-ca.pem", "node"]);
  });

  it("registry base: the image brings Node, so neither the binary nor the lines copying it are staged", () => {
    for (const name of ["agent", "sidecars"] as const) {
      const { files, dockerfile } = stage(name, "registry");
      expect(files).not.toContain("node");
      expect(files).not.toContain("npm.tar");
      const instructions = dockerfile.split("\n").filter((line) => !line.startsWith("#")).join("\n");
      expect(instructions).not.toMatch(/COPY node|npm\.tar/);
      expect(dockerfile).not.toContain("# >>> offline-node");
      expect(dockerfile).toMatch(/^FROM \$\{BASE_IMAGE\}$/m);
    }
  });
});
