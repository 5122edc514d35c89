// The behaviour every backend owes, as one vitest suite. A backend's integration test calls
// `testBackend({...})` with its backend and a world (an upstream "internet" with an allowed
// host that gets a credential injected, an allowed host without one, a host no route names,
// and a git upstream behind the gate), and the suite starts one bottle through the shared
// start (startBottle), probes it from inside the agent, and stops it. What a backend
// declares it cannot do (`supports`) is checked for its declared refusal instead.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import type { BottlePlan, EgressRoutePlan } from "@bottle/plan";
import { addApprovedRoute, readMetadata, stateLayout, writeRoutes, type StateLayout } from "@bottle/state";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capabilityProblems } from "./capabilities.js";
import type { BottleBackend, ExecResult, ProgressEvent } from "./contract.js";
import { openStartRecord } from "./start-record.js";
import { startBottle } from "./start.js";

/** The hosts and upstream of the test's "internet" (e.g. @bottle/test-utils' demo world). */
export interface ConformanceWorld {
  /** Allowed; the route injects `apiKey` as `x-api-key`. */
  apiHost: string;
  /** Allowed by no route: denied until a route for it is approved. */
  lateHost: string;
  /** ssh URL of a repository the gate fronts (protected branch main). */
  gitUrl: string;
  /** The credential the bundle injects; must never be readable in the agent. */
  apiKey: string;
  /** Env from which the bottle's secrets are read (the host side only). */
  env: Record<string, string>;
  /** Puts the upstream where this bottle's bundle (and only the bundle) can route to it. */
  connect(plan: BottlePlan): void | Promise<void>;
  /** Takes the upstream off the bottle's networks again (before stop removes them). */
  disconnect(plan: BottlePlan): void | Promise<void>;
  /** The upstream's addresses the agent could try to reach without the bundle. */
  upstreamAddresses(plan: BottlePlan): string[];
  /** Requests the upstream answered. */
  requests(): Array<{ host: string; url: string; headers: Record<string, string> }>;
  /** `git rev-parse <ref>` of the upstream repository. */
  upstreamHead(ref: string): string;
}

export interface ConformanceOptions {
  /** Shown in every test name, e.g. "docker", "docker + runsc", "smolvm (stand-in)". */
  label: string;
  backend(): BottleBackend | Promise<BottleBackend>;
  world(): Promise<ConformanceWorld>;
  /** The plan of bottle `name` of the world's manifest on this backend, with late facts. */
  plan(name: string, facts?: { bundleAddress?: string; pipelock?: boolean; runtime?: "runc" | "runsc" }): BottlePlan;
  /** Two bottle names of the manifest: the shared bottle, and the one whose start is killed. */
  bottles: [string, string];
  /** Leftovers of a bottle the backend's own tooling still sees (machines, networks); [] when clean. */
  leftovers(plan: BottlePlan): string[] | Promise<string[]>;
  /** Called after the world is gone. */
  teardown?(): void | Promise<void>;
  /** Backend-specific cases on the shared bottle, registered after the first case (it is running). */
  extra?(): void;
}

const AWS_LINE = "aws_access_key_id = AKIA4HK3Q7ZP2XW9RT6M\\naws_secret_access_key = k8Jd2PqL9xZ3vN7bR1tY5wH0mC4sF6gA2eU8iO3n\\n";

/** A PID that no longer runs: the start record of a start whose process was killed. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

export function testBackend(options: ConformanceOptions): void {
  const name = `backend conformance: ${options.label}`;
  let backend: BottleBackend;
  let world: ConformanceWorld;
  let stateHome: string;
  let previousStateHome: string | undefined;
  let plan: BottlePlan;
  let layout: StateLayout;
  const progress: ProgressEvent[] = [];
  const started: Array<{ plan: BottlePlan; layout: StateLayout }> = [];

  const layoutOf = (p: BottlePlan) => stateLayout(path.join(stateHome, "bottle", p.slug));
  const sh = (script: string): Promise<ExecResult> => backend.exec(plan, { command: ["bash", "-c", script], stdio: "capture" });
  const out = (r: ExecResult) => `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();

  describe(name, () => {
    beforeAll(async () => {
      backend = await options.backend();
      world = await options.world();
      stateHome = await mkdtemp(path.join(os.tmpdir(), "bottle-conformance-"));
      // stateDirFor() (cleanup's holder check, exec's readiness check) looks here too
      previousStateHome = process.env.XDG_STATE_HOME;
      process.env.XDG_STATE_HOME = stateHome;
      const first = options.plan(options.bottles[0]);
      layout = layoutOf(first);
      started.push({ plan: first, layout });
      plan = await startBottle(backend, {
        plan: first,
        planFor: (facts) => options.plan(options.bottles[0], facts),
        layout,
        secretContext: { env: world.env },
        holderPid: null,
        onProgress: (e) => progress.push(e),
      });
      await world.connect(plan);
    }, 600_000);

    afterAll(async () => {
      for (const s of started) {
        await Promise.resolve(world?.disconnect(s.plan)).catch(() => undefined);
        await backend?.stop(s.plan, s.layout).catch(() => undefined);
      }
      await options.teardown?.();
      if (previousStateHome === undefined) delete process.env.XDG_STATE_HOME;
      else process.env.XDG_STATE_HOME = previousStateHome;
      if (stateHome) await rm(stateHome, { recursive: true, force: true });
    }, 300_000);

    it(`${options.label}: start → the agent is ready (metadata, list, exec as the agent user) and fenced`, async () => {
      expect((await readMetadata(layout.root))?.phase).toBe("ready");
      const row = (await backend.list()).find((r) => r.slug === plan.slug);
      expect(row).toMatchObject({ slug: plan.slug, backend: backend.name, agent: { state: "running" } });
      const who = await sh("id -un");
      expect(who.exitCode, out(who)).toBe(0);
      expect(who.stdout?.trim()).toBe(plan.agent.user);
      // fenced: no TCP to the upstream but through the bundle
      const addresses = world.upstreamAddresses(plan);
      expect(addresses.length).toBeGreaterThan(0);
      for (const ip of addresses) {
        const probe = await sh(`timeout 4 bash -c '</dev/tcp/${ip}/443' 2>/dev/null && echo OPEN || echo closed`);
        expect(probe.stdout?.trim(), `TCP to ${ip}:443 from the agent`).toBe("closed");
      }
    });

    options.extra?.();

    it(`${options.label}: a host no route names is denied, and the answer tells the agent how to ask`, async () => {
      const res = await sh(`curl -sS -m 20 https://${world.lateHost}/`);
      expect(out(res)).toContain("was denied");
      expect(out(res)).toContain("request_egress_route");
      expect(world.requests().filter((r) => r.host === world.lateHost)).toEqual([]);
    });

    it(`${options.label}: an allowed route goes through with the credential injected outside the agent`, async () => {
      const res = await sh(`curl -sS -m 20 -H 'x-api-key: placeholder' https://${world.apiHost}/v1/conformance -d '{"q":1}'`);
      expect(res.exitCode, out(res)).toBe(0);
      expect(JSON.parse(res.stdout ?? "")).toMatchObject({ ok: true, host: world.apiHost });
      const seen = world.requests().filter((r) => r.url === "/v1/conformance").at(-1);
      expect(seen?.headers["x-api-key"]).toBe(world.apiKey);
      expect(out(res)).not.toContain(world.apiKey);
    });

    it(`${options.label}: the secret is nowhere in the agent (env, home, config, workspace, /tmp)`, async () => {
      const res = await sh(`env; grep -rsl -- '${world.apiKey}' /home /etc /workspace /tmp /root /run 2>/dev/null; true`);
      expect(res.exitCode).toBe(0);
      expect(out(res)).not.toContain(world.apiKey);
      expect(out(res)).toContain("HTTPS_PROXY=");
    });

    it(`${options.label}: an approved route is live at once (routes rewritten, bundle reloaded), without a restart`, async () => {
      const probe = `curl -sS -m 20 -o /dev/null -w '%{http_code}' https://${world.lateHost}/`;
      expect((await sh(probe)).stdout).not.toBe("200");
      const template = plan.routes.find((r) => r.host === world.apiHost)!;
      const route: EgressRoutePlan = { ...template, id: "approved-conformance", host: world.lateHost, inject: [] };
      const approved = await addApprovedRoute(layout, route);
      await writeRoutes(layout, plan, approved);
      const { signalled } = await backend.reload(plan, layout);
      expect(signalled).toContain("egress");
      let code = "";
      for (let i = 0; i < 40 && code !== "200"; i++) {
        code = (await sh(probe)).stdout ?? "";
        if (code !== "200") await new Promise((r) => setTimeout(r, 250));
      }
      expect(code).toBe("200");
    });

    it(`${options.label}: a push is scanned at the gate: a secret is refused and the upstream is unchanged`, async () => {
      const before = world.upstreamHead("main");
      const clone = await sh(`cd /tmp && rm -rf app && git clone -q ${world.gitUrl} app && git -C app rev-parse HEAD`);
      expect(clone.exitCode, out(clone)).toBe(0);
      expect(clone.stdout?.trim()).toBe(before);
      const push = await sh(`cd /tmp/app && printf '${AWS_LINE}' > creds.ini && git add creds.ini && git -c user.email=a@b -c user.name=a commit -qm creds && git push origin HEAD:main`);
      expect(push.exitCode).not.toBe(0);
      expect(out(push)).toContain("creds.ini:2");
      expect(out(push)).not.toContain("k8Jd2PqL9xZ3vN7bR1tY5wH0mC4sF6gA2eU8iO3n");
      expect(world.upstreamHead("main")).toBe(before);
    });

    it(`${options.label}: what the backend declares it cannot do is refused before anything is created`, async () => {
      const wanted = [
        { need: "pipelock", plan: options.plan(options.bottles[1], { pipelock: true }), declared: backend.supports.pipelock },
        { need: "agent runtime runsc", plan: options.plan(options.bottles[1], { runtime: "runsc" }), declared: backend.supports.agentRuntimes.includes("runsc") },
      ];
      for (const w of wanted) {
        // the declaration and the pure check agree
        expect(capabilityProblems(w.plan, backend.supports).length === 0, w.need).toBe(w.declared);
        if (w.declared) continue;
        const l = layoutOf(w.plan);
        await expect(startBottle(backend, { plan: w.plan, layout: l, secretContext: { env: world.env } }), w.need).rejects.toMatchObject({ code: "BACKEND_UNSUPPORTED" });
        expect(await readMetadata(l.root), w.need).toBeUndefined();
        expect((await backend.list()).some((r) => r.slug === w.plan.slug), w.need).toBe(false);
      }
    });

    it(`${options.label}: cleanup removes what a killed start left (start record held by a dead process)`, async () => {
      const second = options.plan(options.bottles[1]);
      const l = layoutOf(second);
      started.push({ plan: second, layout: l });
      // the backend's launch runs to the end, but the process that started it is gone before "ready"
      const start = await openStartRecord(l.root, second, { starterPid: deadPid(), holderPid: null });
      const { resolveSecrets, writeBundleFiles } = await import("@bottle/state");
      const secrets = await resolveSecrets(second, { env: world.env });
      await backend.launch({
        plan: second,
        planFor: (facts) => options.plan(options.bottles[1], facts),
        layout: l,
        writeBundleFiles: (facts = {}) => writeBundleFiles(l, second, { secrets, ...(facts.internalCidr ? { internalCidr: facts.internalCidr } : {}) }),
        record: (facts) => start.record(facts),
        onProgress: () => {},
      });
      expect((await backend.list()).some((r) => r.slug === second.slug)).toBe(true);
      // nothing runs in it: its start never finished
      await expect(backend.exec(second, { command: ["true"], stdio: "capture" })).rejects.toMatchObject({ code: "BOTTLE_NOT_READY" });
      const report = await backend.cleanup({ slug: second.slug });
      expect(report.failures).toEqual([]);
      expect(report.bottles.map((b) => b.slug)).toContain(second.slug);
      expect((await backend.list()).some((r) => r.slug === second.slug)).toBe(false);
      expect(await options.leftovers(second)).toEqual([]);
      // the shared bottle, held by nobody but ready, is not an orphan
      expect((await backend.list()).some((r) => r.slug === plan.slug)).toBe(true);
    });

    it(`${options.label}: stop saves the logs and leaves nothing behind; a second stop is harmless`, async () => {
      await world.disconnect(plan);
      const report = await backend.stop(plan, layout);
      if (report.logFile) expect(report.logFile.startsWith(layout.root)).toBe(true);
      expect((await backend.list()).some((r) => r.slug === plan.slug)).toBe(false);
      expect(await options.leftovers(plan)).toEqual([]);
      await backend.stop(plan, layout);
    });
  });
}
