import { DEFAULT_IMAGES } from "@bottle/plan";
import {
  cleanupDockerTestResources,
  createTestNetwork,
  ensureDocker,
  ensureImage,
  runContainer,
  uniqueName,
  type TestContainer,
} from "@bottle/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// What the whole isolation design rests on: a container on an `--internal` docker network
// has no path to anything outside that network, while ordinary bridges route as usual.

const IMAGE = DEFAULT_IMAGES.agent; // has node and bash; tini as entrypoint
const PORT = 7000;
const SERVER = `require("node:net").createServer((s) => s.end("pong\\n")).listen(${PORT}, "0.0.0.0")`;

/**
 * Connects with bash's /dev/tcp and prints what the server sends. Without a path the
 * SYN is dropped, so `timeout` ends the attempt (exit 124).
 */
function tcpProbe(host: string, seconds = 3): string[] {
  return ["timeout", String(seconds), "bash", "-c", `exec 3<>/dev/tcp/${host}/${PORT} && cat <&3`];
}

async function waitForServer(probe: TestContainer, host: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const res = await probe.exec(tcpProbe(host));
    if (res.stdout.includes("pong")) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server at ${host}:${PORT} never answered`);
}

describe("docker engine: --internal networks", () => {
  const internalNet = uniqueName("internal");
  const otherNet = uniqueName("other");
  let internalServerIp = "";
  let otherServerIp = "";
  let internalProbe: TestContainer;
  let otherProbe: TestContainer;

  beforeAll(async () => {
    await ensureDocker();
    await ensureImage(IMAGE);
    await createTestNetwork(internalNet, { internal: true });
    await createTestNetwork(otherNet);
    const [internalServer, otherServer, probeA, probeB] = await Promise.all([
      runContainer({ image: IMAGE, network: internalNet, command: ["node", "-e", SERVER] }),
      runContainer({ image: IMAGE, network: otherNet, command: ["node", "-e", SERVER] }),
      runContainer({ image: IMAGE, network: internalNet }),
      runContainer({ image: IMAGE, network: otherNet }),
    ]);
    internalProbe = probeA;
    otherProbe = probeB;
    internalServerIp = await internalServer.ip(internalNet);
    otherServerIp = await otherServer.ip(otherNet);
    await waitForServer(otherProbe, otherServerIp);
    await waitForServer(internalProbe, internalServerIp);
  });

  afterAll(async () => {
    await cleanupDockerTestResources();
  });

  it("lets a container on the other network reach the server there", async () => {
    const res = await otherProbe.exec(tcpProbe(otherServerIp));
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain("pong");
  });

  it("lets a container on the internal network reach a server on its own network", async () => {
    const res = await internalProbe.exec(tcpProbe(internalServerIp));
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain("pong");
  });

  it("gives a container on the internal network no TCP path to the other network", async () => {
    const res = await internalProbe.exec(tcpProbe(otherServerIp));
    expect(res.exitCode).not.toBe(0);
    expect(res.stdout).not.toContain("pong");
  });
});
