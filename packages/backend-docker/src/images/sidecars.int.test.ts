// The sidecars image on its own, with a real rendered bundle config: every daemon comes
// up healthy, SIGHUP reaches egress (it reloads), a killed egress is restarted by the
// supervisor, and `docker stop` ends the container cleanly (exit 0, not SIGKILL).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseManifest } from "@bottle/manifest";
import { resolvePlan, type BottlePlan } from "@bottle/plan";
import { prepareStateDir, writeBundleFiles, writeRoutes, type StateLayout } from "@bottle/state";
import { bottleImageTags } from "@bottle/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const IMAGE = process.env.BOTTLE_SIDECARS_IMAGE ?? bottleImageTags().sidecars;
const name = `bottle-test-sidecars-${process.pid}`;
let plan: BottlePlan;
let layout: StateLayout;

const docker = (args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();

interface Health {
  daemons: Array<{ name: string; pid?: number; state: string; restarts: number }>;
}

function health(): { ok: boolean; body?: Health } {
  const res = spawnSync("docker", ["exec", name, "bottle-supervisor", "health"], { encoding: "utf8" });
  try {
    return { ok: res.status === 0, body: JSON.parse(res.stdout) as Health };
  } catch {
    return { ok: false };
  }
}

function waitFor<T>(what: string, probe: () => T | undefined, attempts = 150): T {
  for (let i = 0; i < attempts; i++) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    execFileSync("sleep", ["0.2"]);
  }
  throw new Error(`timed out waiting for ${what}\n${spawnSync("docker", ["logs", name], { encoding: "utf8" }).stdout}`);
}

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bottle-sidecars-"));
  const manifest = parseManifest(
    JSON.stringify({
      bottles: {
        solo: {
          egress: { routes: [{ host: "api.example.com", inject: { "x-api-key": { env: "SOLO_KEY" } } }] },
          git: { upstreams: [{ name: "app", url: "https://git.example.invalid/team/app.git", credential: { env: "SOLO_TOKEN" } }] },
        },
      },
    }),
  );
  plan = resolvePlan(manifest, "solo", { manifestPath: path.join(dir, "bottle.json") });
  layout = await prepareStateDir(path.join(dir, "state"));
  await writeBundleFiles(layout, plan, { secrets: { [plan.secrets[0]!.id]: "sk-solo-0123456789abcdef", [plan.secrets[1]!.id]: "tok-solo-0123456789" } });
  docker([
    "run", "-d", "--name", name, "--label", "dev.bottle.test=1",
    "-v", `${layout.config}:/etc/bottle:ro`, "-v", `${layout.secrets}:/run/bottle/secrets:ro`, "-v", `${layout.bundle}:/var/lib/bottle`,
    IMAGE,
  ]);
}, 120_000);

afterAll(() => {
  spawnSync("docker", ["rm", "-f", name]);
});

describe(`${IMAGE} alone`, () => {
  it("brings every daemon of the plan up and reports healthy", () => {
    const body = waitFor("all daemons healthy", () => {
      const h = health();
      return h.ok ? h.body : undefined;
    });
    expect(body.daemons.map((d) => d.name).sort()).toEqual(plan.bundle.daemons.map((d) => d.name).sort());
    expect(body.daemons.every((d) => d.state === "running")).toBe(true);
  });

  it("forwards SIGHUP to egress, which reloads the new routes", async () => {
    await writeRoutes(layout, plan, [{ id: "approved-req-00000001", host: "docs.example.com", ports: [443], methods: ["GET"], paths: [], inject: [], passthrough: false, scan: true, onFinding: "block" }]);
    docker(["kill", "--signal", "HUP", name]);
    waitFor("egress to log the reload", () => docker(["logs", name]).includes("reloaded: 2 routes") || undefined);
  });

  it("restarts egress when it dies", () => {
    const before = health().body!.daemons.find((d) => d.name === "egress")!;
    docker(["exec", name, "sh", "-c", `kill -9 ${before.pid}`]);
    const after = waitFor("egress restarted", () => {
      const egress = health().body?.daemons.find((d) => d.name === "egress");
      return egress && egress.pid !== before.pid && egress.state === "running" ? egress : undefined;
    });
    expect(after.restarts).toBeGreaterThan(before.restarts);
  });

  it("stops cleanly on docker stop (SIGTERM handled, no SIGKILL)", () => {
    docker(["stop", "--time", "10", name]);
    expect(docker(["inspect", "-f", "{{.State.ExitCode}}", name])).toBe("0");
    expect(docker(["logs", name])).not.toContain("CRASH-LOOPING");
  });
});
