// `bottle start --backend smolvm` through the CLI, against smolvm-standin: a stand-in for
// the smolvm CLI (smolvm cannot be installed here) that maps each machine onto a docker
// container. It proves the CLI wiring (plan by IP, state, provisioning, ls/exec/stop), not
// microVM isolation; see packages/backend-smolvm/README.md.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installSmolvmStandin, type SmolvmStandin } from "@bottle/test-utils";

const cliBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");
let standin: SmolvmStandin;
let manifestPath: string;
let slug = "";
const env = () => ({ ...process.env, BOTTLE_SMOLVM_BIN: standin.bin, MICRO_KEY: "sk-micro-7d1e4c9a2b8f3e6d5c4b3a29" });

function bottle(args: string[]) {
  const res = spawnSync(process.execPath, [cliBin, ...args], { env: env(), encoding: "utf8" });
  return { code: res.status ?? 1, stdout: res.stdout, stderr: res.stderr };
}

beforeAll(async () => {
  // serve: false — the CLI runs under spawnSync, which would block an in-process stand-in server
  standin = await installSmolvmStandin({ serve: false });
  const dir = mkdtempSync(path.join(os.tmpdir(), "bottle-smolvm-cli-"));
  manifestPath = path.join(dir, "bottle.json");
  writeFileSync(
    manifestPath,
    JSON.stringify({ bottles: { micro: { agent: { command: ["bash"] }, egress: { routes: [{ host: "api.example.com", inject: { "x-api-key": { env: "MICRO_KEY" } } }] } } } }),
  );
}, 120_000);

afterAll(async () => {
  if (slug) bottle(["stop", slug]);
  await standin?.cleanup();
}, 120_000);

describe("bottle on the smolvm backend (stand-in CLI)", () => {
  it("starts with --backend smolvm, addresses the bundle by IP, and lists it", () => {
    const started = bottle(["start", "micro", "--backend", "smolvm", "--detach", "-f", manifestPath]);
    expect(started.code, started.stderr).toBe(0);
    slug = (JSON.parse(bottle(["plan", "micro", "--backend", "smolvm", "-f", manifestPath, "--json"]).stdout) as { slug: string }).slug;
    const rows = JSON.parse(bottle(["ls", "--json"]).stdout) as Array<{ bottle: string; backend: string; agent?: { state: string } }>;
    expect(rows.find((r) => r.bottle === "micro")).toMatchObject({ backend: "smolvm", agent: { state: "running" } });
  }, 600_000);

  it("routes the agent through egress at the bundle's IP; unknown hosts are denied with guidance; no secret inside", () => {
    const res = bottle(["exec", slug, "--", "bash", "-c", "echo proxy=$HTTPS_PROXY; curl -sS -m 20 https://example.com/; env"]);
    expect(res.stdout).toMatch(/proxy=http:\/\/\d+\.\d+\.\d+\.\d+:8080/);
    expect(res.stdout).toContain("was denied");
    expect(res.stdout).toContain("request_egress_route");
    expect(res.stdout).not.toContain("sk-micro-7d1e4c9a2b8f3e6d5c4b3a29");
    // the same host-side reader tells it: the denial is in the bottle's audit stream
    const audit = bottle(["audit", slug, "--json"]);
    expect(audit.code, audit.stderr).toBe(0);
    const events = audit.stdout.trim().split("\n").map((l) => JSON.parse(l) as { source: string; outcome: string; http?: { host: string } });
    expect(events).toContainEqual(expect.objectContaining({ source: "egress", outcome: "deny", http: expect.objectContaining({ host: "example.com" }) }));
  }, 120_000);

  it("sent smolvm the documented machine commands", async () => {
    const calls = (await standin.readArgv()).map((argv) => argv.slice(0, 2).join(" "));
    expect(calls).toEqual(expect.arrayContaining(["machine create", "machine start", "machine cp", "machine exec"]));
  });

  it("stops and leaves no machine behind", async () => {
    const res = bottle(["stop", slug]);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(bottle(["ls", "--json"]).stdout).filter((r: { slug: string }) => r.slug === slug)).toEqual([]);
  }, 120_000);
});
