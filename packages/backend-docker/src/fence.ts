import { BottleError } from "@bottle/errors";
import type { BottlePlan } from "@bottle/plan";
import type { DockerCli } from "./engine.js";
import { tail } from "./exec.js";
import type { ProgressListener } from "./progress.js";

/**
 * Firewall rules for the agent's own network namespace: loopback (docker's DNS lives
 * there) and the bundle, nothing else. An `--internal` network alone still lets the agent
 * reach the host itself through the bridge's gateway address (any host service on
 * 0.0.0.0); these rules close that.
 */
export function agentFenceRules(bundleAddress: string): string[][] {
  return [
    ["iptables", "-w", "-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT"],
    ["iptables", "-w", "-A", "OUTPUT", "-d", `${bundleAddress}/32`, "-j", "ACCEPT"],
    ["iptables", "-w", "-A", "OUTPUT", "-j", "REJECT"],
    ["ip6tables", "-w", "-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT"],
    ["ip6tables", "-w", "-A", "OUTPUT", "-j", "REJECT"],
  ];
}

/**
 * Applies agentFenceRules inside the agent's network namespace from a one-shot container
 * (the sidecars image, which has iptables) holding NET_ADMIN. The agent itself has no
 * NET_ADMIN, so it cannot undo them.
 */
export async function fenceAgentNetwork(cli: DockerCli, plan: BottlePlan, onProgress: ProgressListener = () => {}): Promise<string> {
  const bundleAddress = (
    await cli.dockerOk(["inspect", "-f", `{{(index .NetworkSettings.Networks "${plan.networks.internal}").IPAddress}}`, plan.machines.bundle], {
      what: "reading the bundle's address",
    })
  ).trim();
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(bundleAddress)) {
    throw new BottleError(`the bundle has no address on ${plan.networks.internal}`, { code: "DOCKER_FENCE", hint: "check `docker network inspect` of the bottle's internal network" });
  }
  const script = agentFenceRules(bundleAddress).map((argv) => argv.join(" ")).join(" && ");
  const labels = Object.entries(plan.labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
  const result = await cli.docker([
    "run", "--rm", ...labels, "--label", "dev.bottle.role=fence",
    "--network", `container:${plan.machines.agent}`,
    "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
    "--entrypoint", "sh", plan.bundle.image, "-c", script,
  ]);
  if (result.exitCode !== 0) {
    throw new BottleError(`could not fence the agent's network: ${tail(result.stderr, 5)}`, {
      code: "DOCKER_FENCE",
      hint: "the sidecars image needs iptables (rebuild it with `bottle build`); the host kernel needs netfilter",
    });
  }
  onProgress({ step: "fence", message: `agent may reach only the bundle (${bundleAddress}) and loopback` });
  return bundleAddress;
}
