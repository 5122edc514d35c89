// Test-only: a manifest and an "internet" for one bottle, shared by the escape battery
// and the demo. The upstream answers as api/docs/late/git.<domain> once attached to the
// bottle's egress network (the bottle's only way out).
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createUpstreamMaterial, docker, dockerOk, startUpstream, type RunningUpstream, type UpstreamMaterial } from "./upstream.js";

export const DEMO_DOMAIN = "upstream.test";
export const DEMO_HOSTS = {
  api: `api.${DEMO_DOMAIN}`,
  docs: `docs.${DEMO_DOMAIN}`,
  late: `late.${DEMO_DOMAIN}`,
  git: `git.${DEMO_DOMAIN}`,
} as const;

export interface DemoWorld {
  dir: string;
  manifestPath: string;
  /** Env the CLI needs (the injected API key lives only here and in the bundle). */
  env: Record<string, string>;
  apiKey: string;
  material: UpstreamMaterial;
  upstream: RunningUpstream;
  /** The test's own network the upstream lives on (not the bottle's). */
  network: string;
  /** Puts the upstream on the bottle's egress network under the demo host names. */
  connectToBottle(egressNetwork: string): void;
  /** Takes the upstream off every bottle network again (before `bottle stop` removes them). */
  disconnectFromBottles(): void;
  remove(): void;
}

export async function createDemoWorld(options: { id: string; bottles: string[]; runtime?: "runc" | "runsc" }): Promise<DemoWorld> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `bottle-world-${options.id}-`));
  const material = await createUpstreamMaterial(DEMO_DOMAIN);
  const apiKey = `sk-demo-${options.id}-4f9c2a7e1b8d3c6f0a5e9d2b7c4f1a8e`;
  const network = `bottle-test-${options.id}-net`;
  // leftovers of an interrupted earlier run
  dockerOk(["rm", "-f", `bottle-test-${options.id}-upstream`]);
  dockerOk(["network", "rm", network]);
  docker(["network", "create", "--label", "dev.bottle.test=1", network]);
  const upstream = startUpstream(`bottle-test-${options.id}-upstream`, network, material);

  const bottle = {
    agent: { command: ["bash"], ...(options.runtime ? { runtime: options.runtime } : {}) },
    egress: {
      routes: [
        { host: DEMO_HOSTS.api, methods: ["GET", "POST"], inject: { "x-api-key": { env: "BOTTLE_DEMO_API_KEY" } } },
        { host: DEMO_HOSTS.docs, methods: ["GET", "POST"] },
      ],
    },
    git: {
      upstreams: [
        {
          name: "app",
          url: `ssh://git@${DEMO_HOSTS.git}/srv/git/app.git`,
          credential: { file: material.clientKeyFile },
          knownHostKey: material.knownHostLine(DEMO_HOSTS.git),
          protectedBranches: ["main"],
        },
      ],
    },
  };
  const manifest = { extraCaBundle: material.caFile, bottles: Object.fromEntries(options.bottles.map((name) => [name, bottle])) };
  const manifestPath = path.join(dir, "bottle.json");
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);

  const attached = new Set<string>();
  return {
    dir,
    manifestPath,
    env: { BOTTLE_DEMO_API_KEY: apiKey },
    apiKey,
    material,
    upstream,
    network,
    connectToBottle: (egressNetwork) => {
      upstream.attach(egressNetwork, Object.values(DEMO_HOSTS));
      attached.add(egressNetwork);
    },
    disconnectFromBottles: () => {
      for (const net of attached) dockerOk(["network", "disconnect", "-f", net, upstream.container]);
      attached.clear();
    },
    remove: () => {
      for (const net of attached) dockerOk(["network", "disconnect", "-f", net, upstream.container]);
      upstream.remove();
      dockerOk(["network", "rm", network]);
    },
  };
}
