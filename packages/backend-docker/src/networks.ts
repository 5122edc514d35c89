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

/** Bridge driver option (engine 20.10+): no IPv4 address for the host on the bridge. */
export const INHIBIT_IPV4 = "com.docker.network.bridge.inhibit_ipv4";

function labelArgs(labels: Record<string, string>): string[] {
  return Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`]);
}

/**
 * Creates the bottle's two networks, labelled like everything else the bottle owns. If the
 * second creation fails, the first network is removed again before the error propagates.
 */
export async function createNetworks(cli: DockerCli, plan: BottlePlan, options: { stateDir: string; signal?: AbortSignal }): Promise<BottleNetworks> {
  const labels = labelArgs({ ...plan.labels, [STATE_DIR_LABEL]: options.stateDir });
  const specs = [
    // inhibit_ipv4: the host keeps no address on the agent's network, so host services
    // bound to the bridge address are out of the agent's reach even without the fence.
    [plan.networks.internal, ["--internal", "--opt", `${INHIBIT_IPV4}=true`]],
    [plan.networks.egress, []],
  ] as const;
  // Both at once: each `network create` is an engine round trip of ~0.1 s.
  const results = await Promise.allSettled(
    specs.map(([name, extra]) =>
      cli.dockerOk(["network", "create", "--driver", "bridge", ...extra, ...labels, name], {
        what: `creating network ${name}`,
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    ),
  );
  // By id: two networks of one name can exist (docker allows it), and a name would be ambiguous.
  const created = results.flatMap((r) => (r.status === "fulfilled" && r.value.trim() ? [r.value.trim()] : []));
  try {
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    const [internal, egress] = await Promise.all(created.map((id) => inspectNetwork(cli, id))) as [NetworkInfo, NetworkInfo];
    return { internal, egress };
  } catch (error) {
    await removeNetworks(cli, created).catch(() => undefined);
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

/**
 * Removes networks, best given by id (a name can be ambiguous); a network that is already
 * gone is not an error. Returns the references removed.
 */
export async function removeNetworks(cli: DockerCli, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  // One call for all (the common case); name by name only to sort out a partial failure.
  const batch = await cli.docker(["network", "rm", ...names]);
  if (batch.exitCode === 0) return [...names];
  // `network rm` prints each network it did remove.
  const removed = names.filter((name) => batch.stdout.split("\n").some((line) => line.trim() === name));
  for (const name of names.filter((n) => !removed.includes(n))) {
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
