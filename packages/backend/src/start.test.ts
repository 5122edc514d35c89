import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseManifest } from "@bottle/manifest";
import { resolvePlan, type BottlePlan } from "@bottle/plan";
import { bottlePhase, pidAlive, readMetadata, stateLayout, type BottleMetadata } from "@bottle/state";
import { describe, expect, it } from "vitest";
import { BACKEND_SPEC_VERSION, capabilityProblems, startBottle, type BackendCapabilities, type BottleBackend, type LaunchSession } from "./index.js";

const ENV = { env: { K_API: "sk-test" } };
const tmp = () => mkdtempSync(path.join(os.tmpdir(), "bottle-backend-"));

function planFor(dir: string, bottle: Record<string, unknown> = {}): BottlePlan {
  const manifest = parseManifest(JSON.stringify({ bottles: { b: { egress: { routes: [{ host: "api.example.com", inject: { "x-api-key": { env: "K_API" } } }] }, ...bottle } } }));
  return resolvePlan(manifest, "b", { manifestPath: path.join(dir, "bottle.json") });
}

const ALL: BackendCapabilities = { pipelock: true, sidecarLogs: true, followLogs: true, workspaceMount: true, agentRuntimes: ["runc", "runsc"] };

/** An in-memory backend: records what the shared start let it see, fails on request. */
function fakeBackend(options: { running?: boolean; supports?: BackendCapabilities; launch?: (s: LaunchSession) => Promise<BottlePlan> } = {}) {
  const seen: Array<{ during: BottleMetadata | undefined; secretsFile: boolean }> = [];
  const backend: BottleBackend = {
    specVersion: BACKEND_SPEC_VERSION,
    name: "docker",
    supports: options.supports ?? ALL,
    async preflight(plan) {
      if (options.running) throw Object.assign(new Error(`${plan.slug} runs`), { code: "BOTTLE_ALREADY_RUNNING" });
    },
    async launch(session) {
      await session.writeBundleFiles({ internalCidr: "10.9.0.0/24" });
      await session.record({ internalSubnet: "10.9.0.0/24" });
      seen.push({ during: await readMetadata(session.layout.root), secretsFile: existsSync(path.join(session.layout.secrets, "secrets.json")) });
      return options.launch ? options.launch(session) : session.planFor({ bundleAddress: "10.9.0.2" });
    },
    attach: async () => 0,
    exec: async () => ({ exitCode: 0 }),
    logs: async () => 0,
    reload: async () => ({ signalled: [] }),
    stop: async () => ({}),
    list: async () => [],
    cleanup: async () => ({ bottles: [], failures: [] }),
    doctor: async () => ({ backend: "docker", ok: true, checks: [] }),
  };
  return { backend, seen };
}

describe("startBottle: the shared start", () => {
  it("launches with the state dir prepared and metadata 'starting' held by this process, then writes 'ready' last", async () => {
    const dir = tmp();
    const plan = planFor(dir);
    const layout = stateLayout(path.join(dir, "state"));
    const { backend, seen } = fakeBackend();
    const running = await startBottle(backend, { plan, planFor: () => ({ ...plan, bottle: "in-force" }), layout, secretContext: { env: { K_API: "sk-test" } }, holderPid: null });
    expect(running.bottle).toBe("in-force");
    expect(seen[0]).toMatchObject({ during: { phase: "starting", pid: process.pid, internalSubnet: "10.9.0.0/24" }, secretsFile: true });
    const after = await readMetadata(layout.root);
    expect(after).toMatchObject({ phase: "ready", internalSubnet: "10.9.0.0/24", slug: plan.slug, backend: "docker" });
    expect(after?.pid).toBeUndefined(); // detached: nobody holds it
    expect(readFileSync(layout.approvedRoutes, "utf8")).toBe("[]\n");
    expect(existsSync(path.join(layout.root, "start.lock"))).toBe(false);
  });

  it("a failed launch leaves the bottle stopped, its secrets removed and the lock released", async () => {
    const dir = tmp();
    const plan = planFor(dir);
    const layout = stateLayout(path.join(dir, "state"));
    const { backend } = fakeBackend({ launch: async () => Promise.reject(new Error("engine said no")) });
    await expect(startBottle(backend, { plan, layout, secretContext: ENV })).rejects.toThrow("engine said no");
    const after = await readMetadata(layout.root);
    expect(bottlePhase(after!, pidAlive)).toBe("stopped");
    expect(existsSync(layout.secrets)).toBe(false);
    expect(existsSync(path.join(layout.root, "start.lock"))).toBe(false);
  });

  it("refuses a second start of the same bottle while the first holds the lock", async () => {
    const dir = tmp();
    const plan = planFor(dir);
    const layout = stateLayout(path.join(dir, "state"));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { backend } = fakeBackend({ launch: async (s) => (await gate, s.plan) });
    const first = startBottle(backend, { plan, layout, secretContext: ENV });
    await new Promise((r) => setTimeout(r, 50));
    await expect(startBottle(backend, { plan, layout, secretContext: ENV })).rejects.toMatchObject({ code: "BOTTLE_START_LOCKED" });
    release();
    await first;
  });

  it("refuses what the backend does not declare, and a missing secret, before anything is created", async () => {
    const dir = tmp();
    const layout = stateLayout(path.join(dir, "state"));
    const { backend, seen } = fakeBackend({ supports: { ...ALL, pipelock: false } });
    await expect(startBottle(backend, { plan: planFor(dir, { pipelock: { enabled: true } }), layout, secretContext: ENV })).rejects.toMatchObject({ code: "BACKEND_UNSUPPORTED" });
    await expect(startBottle(backend, { plan: planFor(dir), layout, secretContext: { env: {} } })).rejects.toMatchObject({ code: "SECRET_MISSING" });
    expect(existsSync(layout.root)).toBe(false);
    expect(seen).toEqual([]);
  });

  it("a start of a running bottle leaves its metadata, approvals and secrets alone", async () => {
    const dir = tmp();
    const plan = planFor(dir);
    const layout = stateLayout(path.join(dir, "state"));
    await startBottle(fakeBackend().backend, { plan, layout, secretContext: ENV, holderPid: null });
    writeFileSync(layout.approvedRoutes, '[{"id":"approved-x"}]\n');
    const before = readFileSync(layout.metadata, "utf8");
    const { backend, seen } = fakeBackend({ running: true });
    await expect(startBottle(backend, { plan, layout, secretContext: ENV })).rejects.toMatchObject({ code: "BOTTLE_ALREADY_RUNNING" });
    expect(seen).toEqual([]);
    expect(readFileSync(layout.metadata, "utf8")).toBe(before);
    expect(readFileSync(layout.approvedRoutes, "utf8")).toContain("approved-x");
    expect(existsSync(path.join(layout.secrets, "secrets.json"))).toBe(true);
  });

  it("refuses a backend written against another version of the contract", async () => {
    const dir = tmp();
    const { backend } = fakeBackend();
    const old = { ...backend, specVersion: "bottle-backend-v0" } as unknown as BottleBackend;
    await expect(startBottle(old, { plan: planFor(dir), layout: stateLayout(path.join(dir, "state")), secretContext: ENV })).rejects.toMatchObject({ code: "BACKEND_SPEC_UNSUPPORTED" });
  });
});

describe("capabilityProblems", () => {
  const dir = tmp();
  const rows: Array<[string, Record<string, unknown>, Partial<BackendCapabilities>, string[]]> = [
    ["nothing special", {}, { pipelock: false, agentRuntimes: [] }, []],
    ["pipelock on a backend without it", { pipelock: { enabled: true } }, { pipelock: false }, ["pipelock.enabled"]],
    ["pipelock on a backend with it", { pipelock: { enabled: true } }, {}, []],
    ["runsc where only runc runs", { agent: { runtime: "runsc" } }, { agentRuntimes: ["runc"] }, ["agent.runtime"]],
    ["runsc on a backend without runtimes (smolvm)", { agent: { runtime: "runsc" } }, { agentRuntimes: [] }, ["agent.runtime"]],
    ["runsc on docker", { agent: { runtime: "runsc" } }, {}, []],
    ["a mounted workspace without mounts", { workspace: { path: ".", mode: "mount" } }, { workspaceMount: false }, ["workspace.mode"]],
    ["everything at once", { pipelock: { enabled: true }, agent: { runtime: "runsc" } }, { pipelock: false, agentRuntimes: [] }, ["pipelock.enabled", "agent.runtime"]],
  ];
  for (const [what, bottle, supports, paths] of rows) {
    it(what, () => {
      const problems = capabilityProblems(planFor(dir, bottle), { ...ALL, ...supports });
      expect(problems.map((p) => p.path.join("."))).toEqual(paths);
      for (const p of problems) expect(p.hint.length).toBeGreaterThan(0);
    });
  }
});
