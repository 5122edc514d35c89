import { resolvePlan } from "@bottle/plan";
import { parseManifest } from "@bottle/manifest";
import { afterAll, describe, expect, it } from "vitest";
import { DockerCli } from "./engine.js";
import { createNetworks, INHIBIT_IPV4, removeNetworks } from "./networks.js";

// docs/security.md: the agent's internal network carries no host address (inhibit_ipv4).
const plan = resolvePlan(parseManifest(JSON.stringify({ bottles: { net: {} } })), "net", { manifestPath: `/tmp/bottle-networks-test-${process.pid}/bottle.json` });
let cli: DockerCli;

afterAll(async () => {
  if (cli) await removeNetworks(cli, [plan.networks.internal, plan.networks.egress]);
});

describe("createNetworks", () => {
  it("creates the internal network with inhibit_ipv4: the host holds no address on it", async () => {
    cli = await DockerCli.connect();
    const networks = await createNetworks(cli, plan, { stateDir: "/tmp/bottle-networks-test" });
    const options = JSON.parse(await cli.dockerOk(["network", "inspect", "--format", "{{json .Options}}", plan.networks.internal], { what: "inspect" })) as Record<string, string>;
    expect(options[INHIBIT_IPV4]).toBe("true");
    const egress = JSON.parse(await cli.dockerOk(["network", "inspect", "--format", "{{json .Options}}", plan.networks.egress], { what: "inspect" })) as Record<string, string>;
    expect(egress[INHIBIT_IPV4]).toBeUndefined();
    // No host interface carries the internal network's gateway address.
    const { execFileSync } = await import("node:child_process");
    const addresses = execFileSync("ip", ["-4", "-o", "addr", "show"], { encoding: "utf8" });
    expect(networks.internal.gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(addresses).not.toContain(`inet ${networks.internal.gateway}/`);
    // control: the egress bridge does hold its gateway address on the host
    expect(addresses).toContain(`inet ${networks.egress.gateway}/`);
  });
});
