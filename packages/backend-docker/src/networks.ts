import { BottleError } from "@bottle/errors";
import type { BottlePlan } from "@bottle/plan";
import { STATE_DIR_LABEL } from "./compose.js";
import type { DockerCli } from "./engine.js";

export interface NetworkInfo {
  name: string;
  id: string;
  /** IPv4 subnet in CIDR form, e.g. `172.20.0.0/16`. */
  subnet: string;
  gateway?: string;
}

export interface BottleNetworks {
  /** No route out (`--internal`): agent and bundle. pipelock.yaml needs its subnet. */
  internal: NetworkInfo;
  /** Ordinary bridge: the bundle's way out. */
  egress: NetworkInfo;
}

function labelArgs(labels: Record<string, string>): string[] {
  return Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`]);
}

/**
 * Creates the bottle's two networks, labelled like everything else the bottle owns. If the
 * second creation fails, the first network is removed again before the error propagates.
 */
export async function createNetworks(cli: DockerCli, plan: BottlePlan, options: { stateDir: string; signal?: AbortSignal }): Promise<BottleNetworks> {
  const labels = labelArgs({ ...plan.labels, [STATE_DIR_LABEL]: options.stateDir });
  const created: string[] = [];
  try {
    for (const [name, extra] of [
      // inhibit_ipv4: the host keeps no address on the internal bridge, so host services
      // are out of the agent's reach at the network level too (the fence is the second wall)
      [plan.networks.internal, ["--internal", "--opt", "com.docker.network.bridge.inhibit_ipv4=true"]],
      [plan.networks.egress, []],
    ] as const) {
      await cli.dockerOk(["network", "create", "--driver", "bridge", ...extra, ...labels, name], {
        what: `creating network ${name}`,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      created.push(name);
    }
    return { internal: await inspectNetwork(cli, plan.networks.internal), egress: await inspectNetwork(cli, plan.networks.egress) };
  } catch (error) {
    await removeNetworks(cli, created);
    throw error;
  }
}

export async function inspectNetwork(cli: DockerCli, name: string): Promise<NetworkInfo> {
  const out = await cli.dockerOk(["network", "inspect", "--format", "{{json .}}", name], { what: `inspecting network ${name}` });
  const data = JSON.parse(out) as { Id: string; Name: string; IPAM?: { Config?: Array<{ Subnet?: string; Gateway?: string }> | null } };
  const v4 = (data.IPAM?.Config ?? []).find((c) => c.Subnet && !c.Subnet.includes(":"));
  if (!v4?.Subnet) {
    throw new BottleError(`network ${name} has no IPv4 subnet`, { code: "DOCKER_NETWORK_NO_SUBNET", hint: "Check the engine's default address pools (`docker info`)." });
  }
  return { name: data.Name, id: data.Id, subnet: v4.Subnet, ...(v4.Gateway ? { gateway: v4.Gateway } : {}) };
}

/** Removes networks by name; a network that is already gone is not an error. Returns the names removed. */
export async function removeNetworks(cli: DockerCli, names: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const name of names) {
    const result = await cli.docker(["network", "rm", name]);
    if (result.exitCode === 0) removed.push(name);
    else if (!/not found|No such network/i.test(result.stderr)) {
      throw new BottleError(`could not remove network ${name}: ${result.stderr.trim()}`, {
        code: "DOCKER_NETWORK_BUSY",
        hint: "A container outside the bottle may still be attached: `docker network inspect " + name + "`.",
      });
    }
  }
  return removed;
}
