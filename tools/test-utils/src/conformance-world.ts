// Test-only: the demo world (demo-world.ts) shaped for the backend conformance suite of
// @bottle/backend (`testBackend`): its manifest planned for one backend (and runtime), the
// upstream attached where that backend's bundle reaches it, and what the engine still
// holds of a bottle after stop/cleanup.
import { readFileSync } from "node:fs";
import { parseManifest } from "@bottle/manifest";
import { resolvePlan, type BottlePlan } from "@bottle/plan";
import { createDemoWorld, DEMO_HOSTS, type DemoWorld } from "./demo-world.js";
import { docker, dockerOk } from "./upstream.js";

export interface DemoConformanceOptions {
  /** Names docker objects of this run (`bottle-test-<id>-…`). */
  id: string;
  backend: "docker" | "smolvm";
  /** agent.runtime for every bottle of the manifest. */
  runtime?: "runc" | "runsc";
  images: { agent: string; sidecars: string };
  /** The docker network on which the bundle (and the upstream) live, for a plan. */
  bundleNetwork(plan: BottlePlan): string;
}

export interface DemoConformance {
  bottles: [string, string];
  world(): Promise<{
    apiHost: string;
    lateHost: string;
    gitUrl: string;
    apiKey: string;
    env: Record<string, string>;
    connect(plan: BottlePlan): void;
    disconnect(plan: BottlePlan): void;
    upstreamAddresses(plan: BottlePlan): string[];
    requests(): Array<{ host: string; url: string; headers: Record<string, string> }>;
    upstreamHead(ref: string): string;
  }>;
  plan(name: string, facts?: { bundleAddress?: string; pipelock?: boolean; runtime?: "runc" | "runsc" }): BottlePlan;
  leftovers(plan: BottlePlan): string[];
  teardown(): void;
}

export function demoConformance(options: DemoConformanceOptions): DemoConformance {
  const bottles: [string, string] = [`${options.id}-shared`, `${options.id}-killed`];
  let world: DemoWorld | undefined;
  const connected = new Map<string, string>();
  const lines = (args: string[]) => docker(args).split("\n").filter(Boolean);
  return {
    bottles,
    async world() {
      world = await createDemoWorld({ id: options.id, bottles });
      const w = world;
      return {
        apiHost: DEMO_HOSTS.api,
        lateHost: DEMO_HOSTS.late,
        gitUrl: `ssh://git@${DEMO_HOSTS.git}/srv/git/app.git`,
        apiKey: w.apiKey,
        env: w.env,
        connect(plan) {
          const net = options.bundleNetwork(plan);
          w.upstream.attach(net, Object.values(DEMO_HOSTS));
          connected.set(plan.slug, net);
        },
        disconnect(plan) {
          const net = connected.get(plan.slug);
          if (net) dockerOk(["network", "disconnect", "-f", net, w.upstream.container]);
          connected.delete(plan.slug);
        },
        upstreamAddresses: (plan) => [w.upstream.ipOn(w.network), ...(connected.has(plan.slug) ? [w.upstream.ipOn(connected.get(plan.slug)!)] : [])],
        requests: () => w.upstream.requests(),
        upstreamHead: (ref) => w.upstream.git("app", ["rev-parse", ref]),
      };
    },
    plan(name, facts = {}) {
      if (!world) throw new Error("demoConformance: world() first");
      const raw = JSON.parse(readFileSync(world.manifestPath, "utf8")) as { bottles: Record<string, Record<string, unknown>> };
      const bottle = raw.bottles[name]!;
      bottle.backend = options.backend;
      const runtime = facts.runtime ?? options.runtime;
      if (runtime) bottle.agent = { ...(bottle.agent as object), runtime };
      if (facts.pipelock) bottle.pipelock = { enabled: true };
      const manifest = parseManifest(JSON.stringify(raw));
      return resolvePlan(manifest, name, { manifestPath: world.manifestPath, backend: options.backend, images: options.images, ...(facts.bundleAddress ? { bundleAddress: facts.bundleAddress } : {}) });
    },
    leftovers(plan) {
      const bySlug = ["--filter", `label=dev.bottle.slug=${plan.slug}`];
      const machines = [plan.machines.bundle, plan.machines.agent].flatMap((m) => lines(["ps", "-a", "-q", "--filter", `label=dev.bottle.standin.machine=${m}`]));
      return [
        ...lines(["ps", "-a", "-q", ...bySlug]).map((id) => `container ${id}`),
        ...lines(["network", "ls", "-q", ...bySlug]).map((id) => `network ${id}`),
        ...machines.map((id) => `stand-in machine ${id}`),
        ...[plan.networks.internal, `smolvm-standin-${plan.networks.internal}`].filter((n) => dockerOk(["network", "inspect", n])).map((n) => `network ${n}`),
      ];
    },
    teardown() {
      for (const net of connected.values()) if (world) dockerOk(["network", "disconnect", "-f", net, world.upstream.container]);
      world?.remove();
    },
  };
}
