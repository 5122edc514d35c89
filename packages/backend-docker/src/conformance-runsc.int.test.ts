// The backend conformance suite of @bottle/backend against the docker backend with the
// agent under gVisor (`agent.runtime: "runsc"`): the engine must list runsc (scripts/
// docker-engine.sh registers Debian's package). Besides the suite, the agent must really
// run on gVisor's kernel, and the iptables fence must hold for it.
import { execFileSync } from "node:child_process";
import { testBackend } from "@bottle/backend/conformance";
import type { BottlePlan } from "@bottle/plan";
import { bottleImageTags, buildUpstreamImage, demoConformance } from "@bottle/test-utils";
import { describe, expect, it } from "vitest";
import { createDockerBackend } from "./backend.js";
import { engineRuntimes } from "./runtimes.js";

buildUpstreamImage();
const fixture = demoConformance({ id: "conf-runsc", backend: "docker", runtime: "runsc", images: bottleImageTags(), bundleNetwork: (plan) => plan.networks.egress });
let shared: BottlePlan | undefined;

describe("gVisor tier: prerequisites", () => {
  it("the engine lists runsc (registered by scripts/docker-engine.sh)", async () => {
    expect(await engineRuntimes()).toContain("runsc");
  });
});

testBackend({
  label: "docker + runsc (gVisor)",
  backend: () => createDockerBackend(),
  world: () => fixture.world(),
  plan: (name, facts) => {
    const plan = fixture.plan(name, facts);
    if (name === fixture.bottles[0]) shared = plan;
    return plan;
  },
  bottles: fixture.bottles,
  leftovers: (plan) => fixture.leftovers(plan),
  teardown: () => fixture.teardown(),
  extra: () => {
    it("docker + runsc (gVisor): the agent container runs under runsc, on gVisor's kernel; the bundle does not", () => {
      const runtimeOf = (container: string) => execFileSync("docker", ["inspect", "-f", "{{.HostConfig.Runtime}}", container], { encoding: "utf8" }).trim();
      expect(runtimeOf(shared!.machines.agent)).toBe("runsc");
      expect(runtimeOf(shared!.machines.bundle)).not.toBe("runsc");
      const dmesg = execFileSync("docker", ["exec", shared!.machines.agent, "dmesg"], { encoding: "utf8" });
      expect(dmesg).toContain("Starting gVisor");
    });
  },
});
