// A secret file the manifest names inside the workspace never reaches the agent: a real
// `bottle start` (copy mode) leaves it out of the copy; mount mode is refused up front.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const cliBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");
const TOKEN = "tok-workspace-secret-7Hq2Zx9Lm4Wv0Tt3Rb8";

let dir: string;
let state: string;
let agentContainer: string | undefined;
let slug: string | undefined;

function bottle(args: string[]) {
  const res = spawnSync(process.execPath, [cliBin, ...args], { env: { ...process.env, XDG_STATE_HOME: state }, encoding: "utf8" });
  return { code: res.status ?? 1, stdout: res.stdout, stderr: res.stderr };
}

function writeManifest(mode: "copy" | "mount"): string {
  const manifest = {
    bottles: {
      ws: {
        agent: { command: ["bash"] },
        workspace: { path: ".", mode },
        egress: { routes: [{ host: "api.example.invalid", inject: { "x-api-key": { file: "./.secrets/token" } } }] },
        supervise: { enabled: false },
      },
    },
  };
  const file = path.join(dir, `bottle-${mode}.json`);
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "bottle-ws-secrets-"));
  state = mkdtempSync(path.join(os.tmpdir(), "bottle-ws-state-"));
  mkdirSync(path.join(dir, ".secrets"));
  writeFileSync(path.join(dir, ".secrets", "token"), `${TOKEN}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, ".secrets", "README.md"), "not a secret, copied\n");
  writeFileSync(path.join(dir, "main.txt"), "project file\n");
});

afterAll(() => {
  if (slug) bottle(["stop", slug]);
  rmSync(dir, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
}, 300_000);

describe("secret files inside the workspace", () => {
  it("validate warns for copy mode and refuses mount mode; start refuses mount mode too", () => {
    const copy = bottle(["validate", "-f", writeManifest("copy")]);
    expect(copy.code).toBe(0);
    expect(copy.stderr).toContain("left out of the agent's copy: .secrets/token");
    const mount = bottle(["validate", "-f", writeManifest("mount")]);
    expect(mount.code).toBe(2);
    expect(mount.stderr).toContain("holds secret file(s) the manifest names: .secrets/token");
    expect(mount.stderr).toContain("hint:");
    const start = bottle(["start", "ws", "--detach", "--no-build", "-f", writeManifest("mount")]);
    expect(start.code).toBe(2);
    expect(start.stderr).toContain(".secrets/token");
  });

  it("a real bottle start (copy mode) leaves the secret file out of the agent's workspace", () => {
    const file = writeManifest("copy");
    const plan = JSON.parse(bottle(["plan", "ws", "-f", file, "--json"]).stdout) as { slug: string; machines: { agent: string } };
    slug = plan.slug;
    agentContainer = plan.machines.agent;
    const start = bottle(["start", "ws", "--detach", "--no-build", "-f", file]);
    expect(start.code, start.stderr).toBe(0);
    const look = spawnSync("docker", ["exec", "-u", "node", agentContainer, "bash", "-c", `ls -A /workspace /workspace/.secrets; grep -rlF -- '${TOKEN}' /workspace /home /tmp /etc 2>/dev/null; true`], { encoding: "utf8" });
    expect(look.stdout).toContain("main.txt");
    expect(look.stdout).toContain("README.md");
    expect(look.stdout).not.toContain("token");
    expect(look.stdout).not.toContain(TOKEN);
  }, 300_000);
});
