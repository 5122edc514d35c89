import net from "node:net";
import {
  bottleImageTags,
  cleanupDockerTestResources,
  createTestNetwork,
  ensureDocker,
  ensureImage,
  runContainer,
  uniqueName,
  type TestContainer,
} from "@bottle/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// What the isolation design rests on, checked against the engine itself:
// - a container on an `--internal` network has no path to other docker networks;
// - but a plain `--internal` bridge still carries the host's address (its gateway), so
//   host services listening there are reachable; with the bridge driver option
//   `com.docker.network.bridge.inhibit_ipv4=true` the bridge has no host address and the
//   host is out of reach too, while containers on the network still talk to each other.

const IMAGE = bottleImageTags().agent; // has node and bash; tini as entrypoint
const PORT = 7000;
const SERVER = `require("node:net").createServer((s) => s.end("pong\\n")).listen(${PORT}, "0.0.0.0")`;
const INHIBIT_IPV4 = { "com.docker.network.bridge.inhibit_ipv4": "true" };

/**
 * Connects with bash's /dev/tcp and prints what the server sends. Without a path the
 * attempt fails or hangs until `timeout` ends it (exit 124).
 */
function tcpProbe(host: string, port = PORT, seconds = 3): string[] {
  return ["timeout", String(seconds), "bash", "-c", `exec 3<>/dev/tcp/${host}/${port} && cat <&3`];
}

async function waitForServer(probe: TestContainer, host: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const res = await probe.exec(tcpProbe(host));
    if (res.stdout.includes("pong")) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server at ${host}:${PORT} never answered`);
}

/** A host service bound to one address only (a bridge's gateway), answering "host". */
async function hostServer(address: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => socket.end("host\n"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, address, resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("docker engine: network isolation", () => {
  const internalNet = uniqueName("internal");
  const inhibitedNet = uniqueName("inhibited");
  const otherNet = uniqueName("other");
  const ip = { internalServer: "", inhibitedServer: "", otherServer: "", internalGateway: "", otherGateway: "", inhibitedGateway: "" };
  const probe = {} as Record<"internal" | "inhibited" | "other", TestContainer>;
  const hostServers: Array<{ port: number; close(): Promise<void> }> = [];
  let onInternalGateway = 0;
  let onOtherGateway = 0;

  beforeAll(async () => {
    await ensureDocker();
    await ensureImage(IMAGE);
    const [internal, inhibited, other] = await Promise.all([
      createTestNetwork(internalNet, { internal: true }),
      createTestNetwork(inhibitedNet, { internal: true, driverOpts: INHIBIT_IPV4 }),
      createTestNetwork(otherNet),
    ]);
    const [internalServer, inhibitedServer, otherServer, probeInternal, probeInhibited, probeOther] = await Promise.all([
      runContainer({ image: IMAGE, network: internalNet, command: ["node", "-e", SERVER] }),
      runContainer({ image: IMAGE, network: inhibitedNet, command: ["node", "-e", SERVER] }),
      runContainer({ image: IMAGE, network: otherNet, command: ["node", "-e", SERVER] }),
      runContainer({ image: IMAGE, network: internalNet }),
      runContainer({ image: IMAGE, network: inhibitedNet }),
      runContainer({ image: IMAGE, network: otherNet }),
    ]);
    probe.internal = probeInternal;
    probe.inhibited = probeInhibited;
    probe.other = probeOther;
    ip.internalServer = await internalServer.ip(internalNet);
    ip.inhibitedServer = await inhibitedServer.ip(inhibitedNet);
    ip.otherServer = await otherServer.ip(otherNet);
    ip.internalGateway = await internal.gateway();
    ip.otherGateway = await other.gateway();
    ip.inhibitedGateway = await inhibited.gateway();
    // Host services bound to the bridges' host addresses only (traffic stays on test networks).
    const a = await hostServer(ip.internalGateway);
    const b = await hostServer(ip.otherGateway);
    hostServers.push(a, b);
    onInternalGateway = a.port;
    onOtherGateway = b.port;
    await Promise.all([
      waitForServer(probe.other, ip.otherServer),
      waitForServer(probe.internal, ip.internalServer),
      waitForServer(probe.inhibited, ip.inhibitedServer),
    ]);
  });

  afterAll(async () => {
    await Promise.all(hostServers.map((s) => s.close()));
    await cleanupDockerTestResources();
  });

  it("lets containers on the same network talk (ordinary, internal and inhibited bridges)", async () => {
    for (const [who, target] of [
      [probe.other, ip.otherServer],
      [probe.internal, ip.internalServer],
      [probe.inhibited, ip.inhibitedServer],
    ] as const) {
      const res = await who.exec(tcpProbe(target));
      expect(res.exitCode, target).toBe(0);
      expect(res.stdout).toContain("pong");
    }
  });

  it("gives a container on an internal network no TCP path to another docker network", async () => {
    for (const who of [probe.internal, probe.inhibited]) {
      const res = await who.exec(tcpProbe(ip.otherServer, PORT, 2));
      expect(res.exitCode).not.toBe(0);
      expect(res.stdout).not.toContain("pong");
    }
  });

  it("still lets a plain --internal network reach the host on its bridge address", async () => {
    const res = await probe.internal.exec(tcpProbe(ip.internalGateway, onInternalGateway));
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain("host");
  });

  it("leaves the host out of reach from an internal network whose bridge has no IPv4 address", async () => {
    // control: the host services answer from the ordinary network
    const control = await probe.other.exec(tcpProbe(ip.otherGateway, onOtherGateway));
    expect(control.stdout).toContain("host");
    for (const [address, port] of [
      [ip.inhibitedGateway, onOtherGateway],
      [ip.internalGateway, onInternalGateway],
      [ip.otherGateway, onOtherGateway],
    ] as const) {
      const res = await probe.inhibited.exec(tcpProbe(address, port, 2));
      expect(res.exitCode, `${address}:${port}`).not.toBe(0);
      expect(res.stdout).not.toContain("host");
    }
  });
});
