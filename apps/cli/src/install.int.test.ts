// What a user does, from packed tarballs and outside the repository: `pnpm pack` every
// publishable package, `npm install` the CLI (its @bottle/* dependencies from those
// tarballs, third-party ones from the registry/cache) into a fresh prefix, then from an
// empty folder: --version, init, validate, plan, build --offline-base, start --detach, stop.
// A second fresh project installs @bottle/plan (+ its @bottle deps) and imports
// resolvePlan from TypeScript (type-checked by tsc) and from plain ESM.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const cliVersion = (JSON.parse(readFileSync(path.join(repoRoot, "apps/cli/package.json"), "utf8")) as { version: string }).version;

let tmp: string;
let tarballs: { name: string; tarball: string }[];
let bottleBin: string;
let project: string;
let env: NodeJS.ProcessEnv;
let startedSlug: string | undefined;

function npmInstall(prefix: string, specs: string[]): void {
  mkdirSync(prefix, { recursive: true });
  execFileSync("npm", ["install", "--prefix", prefix, "--no-fund", "--no-audit", "--loglevel=warn", ...specs], { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, npm_config_update_notifier: "false" } });
}

function bottle(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(bottleBin, args, { cwd: project, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

function ok(args: string[]): string {
  const res = bottle(args);
  if (res.status !== 0) throw new Error(`bottle ${args.join(" ")} exited ${res.status}\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "bottle-install-"));
  tarballs = JSON.parse(execFileSync(process.execPath, [path.join(repoRoot, "tools/pack-all.mjs"), path.join(tmp, "tarballs")], { encoding: "utf8" }));
  const prefix = path.join(tmp, "prefix");
  npmInstall(prefix, tarballs.map((t) => t.tarball));
  bottleBin = path.join(prefix, "node_modules", ".bin", "bottle");
  project = path.join(tmp, "project");
  mkdirSync(project);
  env = {
    ...process.env,
    XDG_STATE_HOME: path.join(tmp, "state"),
    ANTHROPIC_API_KEY: "sk-ant-install-test-not-a-real-key",
    BOTTLE_REPO_ROOT: "/nonexistent", // nothing may look for a checkout
  };
}, 300_000);

afterAll(() => {
  if (startedSlug) bottle(["stop", startedSlug]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("installed from packed tarballs with npm", () => {
  it("packs every publishable package without workspace: ranges", () => {
    expect(tarballs.map((t) => t.name)).toEqual(expect.arrayContaining(["@bottle/cli", "@bottle/plan", "@bottle/manifest", "@bottle/backend-docker"]));
    const manifest = execFileSync("tar", ["-xOzf", tarballs.find((t) => t.name === "@bottle/cli")!.tarball, "package/package.json"], { encoding: "utf8" });
    expect(manifest).not.toContain("workspace:");
  });

  it("runs outside the repository: --version, init, validate, plan --json", () => {
    expect(bottleBin.startsWith(repoRoot)).toBe(false);
    expect(project.startsWith(repoRoot)).toBe(false);
    expect(ok(["--version"]).trim()).toBe(cliVersion);

    expect(ok(["init"])).toContain("export ANTHROPIC_API_KEY=");
    expect(readdirSync(project).sort()).toEqual(["bottle.json", "bottle.schema.json"]);
    const manifest = JSON.parse(readFileSync(path.join(project, "bottle.json"), "utf8"));
    expect(manifest.$schema).toBe("./bottle.schema.json");
    expect(JSON.parse(readFileSync(path.join(project, "bottle.schema.json"), "utf8")).type).toBe("object");

    expect(ok(["validate"])).toContain("ok (1 bottle: claude)");
    const plan = JSON.parse(ok(["plan", "claude", "--json"]));
    // the CLI's own versioned images, the same recipe as this checkout's build
    const repoTags = JSON.parse(readFileSync(path.join(repoRoot, "apps/cli/dist/images/images.json"), "utf8")).tags;
    expect(plan.agent.image).toMatch(new RegExp(`^bottle/agent:${cliVersion.replace(/\./g, "\\.")}-[0-9a-f]{12}$`));
    expect({ agent: plan.agent.image, sidecars: plan.bundle.image }).toEqual(repoTags);
    expect(plan.routes[0].inject).toEqual([{ header: "x-api-key", secret: expect.any(String), prefix: "" }]);
    expect(JSON.stringify(plan)).not.toContain(env.ANTHROPIC_API_KEY);
  });

  it("builds its images from the installed package (--offline-base), starts detached and stops", () => {
    // --force: really `docker build` the contexts the installed package stages (layers cached)
    const built = JSON.parse(ok(["build", "--offline-base", "--force", "--json"])) as { tag: string; built: boolean }[];
    expect(built.map((b) => b.built)).toEqual([true, true]);
    const plan = JSON.parse(ok(["plan", "claude", "--json"]));
    expect(built.map((b) => b.tag).sort()).toEqual([plan.agent.image, plan.bundle.image].sort());

    const started = JSON.parse(ok(["start", "claude", "--detach", "--json"])) as { slug: string };
    startedSlug = started.slug;
    expect(started.slug).toBe(plan.slug);
    const image = execFileSync("docker", ["inspect", "--format", "{{.Config.Image}}", plan.machines.agent], { encoding: "utf8" }).trim();
    expect(image).toBe(plan.agent.image);
    // the workspace was copied in, the key was not
    const inside = execFileSync("docker", ["exec", "-u", "node", plan.machines.agent, "sh", "-c", "ls /workspace; env"], { encoding: "utf8" });
    expect(inside).toContain("bottle.json");
    expect(inside).not.toContain(env.ANTHROPIC_API_KEY);

    ok(["stop", started.slug]);
    startedSlug = undefined;
    const left = execFileSync("docker", ["ps", "-a", "--filter", `label=dev.bottle.slug=${plan.slug}`, "--format", "{{.Names}}"], { encoding: "utf8" }).trim();
    expect(left).toBe("");
  });

  it("a library user installs @bottle/plan alone and imports resolvePlan from TypeScript and plain ESM", () => {
    const lib = path.join(tmp, "lib-user");
    mkdirSync(lib);
    writeFileSync(path.join(lib, "package.json"), `${JSON.stringify({ name: "lib-user", private: true, type: "module" })}\n`);
    // @bottle/plan and the @bottle packages it depends on, nothing else of ours
    const planDeps = ["@bottle/plan", "@bottle/manifest", "@bottle/errors"];
    npmInstall(lib, tarballs.filter((t) => planDeps.includes(t.name)).map((t) => t.tarball));
    expect(readdirSync(path.join(lib, "node_modules", "@bottle")).sort()).toEqual(["errors", "manifest", "plan"]);

    const source = [
      'import { resolvePlan, type BottlePlan } from "@bottle/plan";',
      'import { parseManifest } from "@bottle/manifest";',
      'const manifest = parseManifest(JSON.stringify({ bottles: { dev: { egress: { routes: [{ host: "api.example.com" }] } } } }));',
      'const plan: BottlePlan = resolvePlan(manifest, "dev", { manifestPath: "/work/bottle.json" });',
      "const hosts: string[] = plan.routes.map((r) => r.host);",
      "// @ts-expect-error the plan's types are real: no such field",
      "plan.noSuchField;",
      "console.log(JSON.stringify({ slug: plan.slug, hosts }));",
      "",
    ].join("\n");
    writeFileSync(path.join(lib, "index.ts"), source);
    writeFileSync(
      path.join(lib, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", strict: true, noEmit: true, types: [], skipLibCheck: true }, files: ["index.ts"] }),
    );
    const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc");
    const checked = spawnSync(process.execPath, [tsc, "-p", lib], { encoding: "utf8" });
    expect(checked.stdout + checked.stderr).toBe("");
    expect(checked.status).toBe(0);

    // a type error is caught, so the check above could fail
    writeFileSync(path.join(lib, "index.ts"), source.replace("const hosts: string[]", "const hosts: number[]"));
    expect(spawnSync(process.execPath, [tsc, "-p", lib], { encoding: "utf8" }).status).not.toBe(0);

    writeFileSync(
      path.join(lib, "index.mjs"),
      [
        'import { resolvePlan } from "@bottle/plan";',
        'import { parseManifest } from "@bottle/manifest";',
        'const plan = resolvePlan(parseManifest(JSON.stringify({ bottles: { dev: { egress: { routes: [{ host: "api.example.com" }] } } } })), "dev", { manifestPath: "/work/bottle.json" });',
        "console.log(JSON.stringify({ slug: plan.slug, hosts: plan.routes.map((r) => r.host) }));",
      ].join("\n"),
    );
    const ran = JSON.parse(execFileSync(process.execPath, ["index.mjs"], { cwd: lib, encoding: "utf8" }));
    expect(ran).toEqual({ slug: expect.stringMatching(/^dev-[0-9a-f]{8}$/), hosts: ["api.example.com"] });
  });
});
