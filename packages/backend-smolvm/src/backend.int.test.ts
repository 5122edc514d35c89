import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createBottleCa, fingerprintSha256 } from "@bottle/ca";
import { BottleError } from "@bottle/errors";
import { parseManifest } from "@bottle/manifest";
import { resolvePlan, type BottlePlan } from "@bottle/plan";
import { bottleImageTags, installSmolvmStandin, type SmolvmStandin } from "@bottle/test-utils";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { machineCreateArgs, machineExecArgs, machineStartArgs } from "./args.js";
import { bundleFilesFromState, createSmolvmBackend, type SmolvmBackend, type SmolvmLaunchResult } from "./backend.js";
import { SmolvmCli } from "./cli.js";
import { deriveImage, derivedTag, imageArchive } from "./images.js";

/*
 * Runs the backend against the smolvm CLI. Without BOTTLE_SMOLVM_BIN it uses
 * smolvm-standin (docker containers standing in for microVMs); with it, the real smolvm:
 *   BOTTLE_SMOLVM_BIN=/path/to/smolvm npx vitest run --project integration packages/backend-smolvm
 * Guest state is checked with `smolvm machine exec`, so the same assertions hold for both.
 */

const REAL_BIN = process.env.BOTTLE_SMOLVM_BIN || undefined;
const FAKE_SUPERVISOR = `#!/bin/sh
# test double of bottle-supervisor (run / health / signal), sent as a bundle file by the test
case "$1" in
  health) exec curl -fsS --noproxy '*' http://127.0.0.1:9000/healthz ;;
  signal) echo "$2 $3" >> /var/lib/bottle/signals.log; echo '{"ok":true}' ;;
  *) echo "fake supervisor: $*"; exec node -e 'require("http").createServer((q,s)=>s.end(JSON.stringify({ok:true,path:q.url}))).listen(9000,"0.0.0.0")' ;;
esac
`;

let standin: SmolvmStandin | undefined;
let bin: string;
let tmp: string;
let guestImage: string;
let backend: SmolvmBackend;
let cli: SmolvmCli;
let plan0: BottlePlan;
let result: SmolvmLaunchResult;
let caPem: string;
const sent: string[][] = [];
const logs: string[] = [];
let bundleStateDir: string;

async function imageExists(image: string): Promise<boolean> {
  return (await execa("docker", ["image", "inspect", image], { reject: false })).exitCode === 0;
}

/** Runs a command in a machine as the image user (root: the backend derives USER root images). */
async function sh(machine: string, script: string): Promise<string> {
  return (await cli.run(machineExecArgs(machine, ["sh", "-c", script]))).stdout.trim();
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "backend-smolvm-int-"));
  const agentImage = bottleImageTags().agent;
  guestImage = (await imageExists(agentImage)) ? agentImage : "bottle/base:bookworm";
  if (REAL_BIN) bin = REAL_BIN;
  else {
    standin = await installSmolvmStandin();
    bin = standin.bin;
  }
  cli = new SmolvmCli({ bin });
  backend = createSmolvmBackend({ bin, onCommand: (argv) => sent.push(argv) });

  // a project: manifest, prompt, a skill, a workspace with a .git
  const proj = path.join(tmp, "proj");
  await mkdir(path.join(proj, "skills", "review", "bin"), { recursive: true });
  await mkdir(path.join(proj, "src", ".git"), { recursive: true });
  await writeFile(path.join(proj, "prompt.md"), "You review code.\n", { mode: 0o644 });
  await writeFile(path.join(proj, "skills", "review", "SKILL.md"), "# review\n", { mode: 0o644 });
  await writeFile(path.join(proj, "skills", "review", "bin", "check.sh"), "#!/bin/sh\necho ok\n", { mode: 0o755 });
  await writeFile(path.join(proj, "src", "README.md"), "hello from the host\n");
  await writeFile(path.join(proj, "src", ".git", "HEAD"), "ref: refs/heads/main\n");
  const manifestPath = path.join(proj, "bottle.json");
  const manifestText = JSON.stringify({
    bottles: {
      dev: {
        backend: "smolvm",
        agent: { prompt: "./prompt.md", skills: ["./skills/review"], cpus: 1, memory: "768m", env: { EDITOR: "vi" } },
        workspace: { path: "./src", mode: "copy", copyGit: true },
        git: { upstreams: [{ name: "app", url: "https://github.com/acme/app.git" }] },
        supervise: { enabled: true },
      },
    },
  });
  await writeFile(manifestPath, manifestText);
  const manifest = parseManifest(manifestText);
  const planFor = (bundleAddress?: string) =>
    resolvePlan(manifest, "dev", { manifestPath, backend: "smolvm", images: { agent: guestImage, sidecars: guestImage }, ...(bundleAddress ? { bundleAddress } : {}) });
  plan0 = planFor();

  // the rendered state dir, as @bottle/state lays it out
  const ca = await createBottleCa({ commonName: "bottle CA test" });
  caPem = ca.certPem;
  const layout = { config: path.join(tmp, "state", "config"), secrets: path.join(tmp, "state", "secrets") };
  await mkdir(path.join(layout.config, "ca"), { recursive: true });
  await mkdir(layout.secrets, { recursive: true });
  await writeFile(path.join(layout.config, "daemons.json"), JSON.stringify({ healthPort: 9000, daemons: plan0.bundle.daemons }));
  await writeFile(path.join(layout.config, "routes.json"), '{"version":1,"routes":[]}\n', { mode: 0o644 });
  await writeFile(path.join(layout.config, "ca", "ca.crt"), ca.certPem, { mode: 0o644 });
  await writeFile(path.join(layout.config, "ca", "ca.key"), ca.keyPem, { mode: 0o600 });
  await writeFile(path.join(layout.secrets, "secrets.json"), '{"git.app.credential":"s3cret-token"}\n', { mode: 0o600 });
  bundleStateDir = path.join(tmp, "state", "bundle");
  await mkdir(bundleStateDir, { recursive: true });
  await chmod(bundleStateDir, 0o777);
  const bundleFiles = [
    ...(await bundleFilesFromState(layout, plan0)),
    { path: "/usr/local/bin/bottle-supervisor", content: FAKE_SUPERVISOR, mode: 0o755 },
  ];

  // real smolvm needs `docker save` archives (the default); the stand-in also takes the derived
  // image by reference, which spares each run a ~800 MB save (imageArchive has its own test below)
  const images = REAL_BIN ? undefined : { agent: await deriveImage(guestImage), bundle: derivedTag(guestImage) };
  result = await backend.launch({
    planFor,
    ...(images ? { images } : {}),
    stateDir: path.join(tmp, "state"), // CA from config/ca/ca.crt, /var/lib/bottle ← state/bundle
    bundleFiles,
    imageCacheDir: path.join(tmp, "images"),
    readyTimeoutMs: 90_000,
    log: (line) => logs.push(line),
  });
});

afterAll(async () => {
  if (backend && plan0) await backend.cleanup({ slug: plan0.slug }).catch(() => {});
  await standin?.cleanup();
  for (const image of [guestImage, "bottle/base:bookworm"]) if (image) await execa("docker", ["rmi", derivedTag(image)], { reject: false });
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("smolvm backend (against smolvm-standin unless BOTTLE_SMOLVM_BIN is set)", () => {
  it("learns the bundle's address and re-resolves the plan with it", () => {
    const ip = result.bundleAddress;
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(result.plan.git.upstreams[0]?.gateUrl).toBe(`git://${ip}:9418/app.git`);
    expect(result.plan.supervise.url).toBe(`http://${ip}:9100/mcp`);
    expect(result.plan.agent.env.HTTPS_PROXY).toBe(`http://${ip}:8080`);
  });

  it("sends smolvm exactly the documented argument lists: bundle first, then the agent allowed only the bundle", async () => {
    const { bundle, agent } = plan0.machines;
    const ip = result.bundleAddress;
    const creates = sent.filter((a) => a[1] === "create");
    expect(creates).toHaveLength(2);
    const [bundleCreate, agentCreate] = creates as [string[], string[]];
    const archive = bundleCreate[bundleCreate.indexOf("--image") + 1]!;
    expect(archive).toBe(REAL_BIN ? expect.stringMatching(/\.tar$/) : derivedTag(guestImage));
    expect(bundleCreate).toEqual(
      machineCreateArgs({
        name: bundle,
        image: archive,
        labels: { ...plan0.labels, "dev.bottle.role": "bundle" },
        cpus: 1,
        memoryMib: 1024,
        network: plan0.networks.internal,
        volumes: [{ host: bundleStateDir, guest: "/var/lib/bottle" }],
        command: bundleCreate.slice(bundleCreate.indexOf("--") + 1),
      }),
    );
    expect(agentCreate.slice(0, 4)).toEqual(["machine", "create", "--name", agent]);
    expect(agentCreate).toEqual(
      expect.arrayContaining(["--label", `dev.bottle.slug=${plan0.slug}`, "--label", "dev.bottle.role=agent", "--cpus", "1", "--mem", "768"]),
    );
    const policy = agentCreate.slice(agentCreate.indexOf("--network"), agentCreate.indexOf("--network") + 6);
    expect(policy).toEqual(["--network", plan0.networks.internal, "--allow-cidr", `${ip}/32`, "--dns", "192.0.2.1"]);
    expect(agentCreate).toContain(`HTTPS_PROXY=http://${ip}:8080`);
    expect(agentCreate.slice(-3)).toEqual(["--", "sleep", "infinity"]);
    // order of lifecycle calls
    const lifecycle = sent.filter((a) => a[1] === "create" || a[1] === "start").map((a) => `${a[1]} ${a[3]}`);
    expect(lifecycle).toEqual([`create ${bundle}`, `start ${bundle}`, `create ${agent}`, `start ${agent}`]);
    expect(sent.filter((a) => a[1] === "start")).toEqual([machineStartArgs(bundle), machineStartArgs(agent)]);
    // only subcommands of the documented subset
    expect(new Set(sent.map((a) => (a[0] === "machine" ? a[1] : a[0])))).toEqual(new Set(["--version", "create", "start", "exec", "cp"]));
    if (standin) expect((await standin.readArgv()).slice(0, sent.length)).toEqual(sent);
  });

  it("copies the bundle's files, secrets 0600 under the container's /run tmpfs included", async () => {
    const b = plan0.machines.bundle;
    expect(await sh(b, "stat -c '%a %u' /run/bottle/secrets/secrets.json")).toBe("600 0");
    expect(await sh(b, "cat /run/bottle/secrets/secrets.json")).toBe('{"git.app.credential":"s3cret-token"}');
    expect(await sh(b, "stat -c '%a' /etc/bottle/ca/ca.key /etc/bottle/routes.json")).toBe("600\n644");
    expect(JSON.parse(await sh(b, "cat /etc/bottle/daemons.json")).healthPort).toBe(9000);
    expect(await sh(b, "ls -A /var/tmp/bottle-stage")).toBe("");
  });

  it("the agent trusts the bottle CA and the fingerprint is logged", async () => {
    const a = plan0.machines.agent;
    const fp = fingerprintSha256(caPem);
    expect(result.caFingerprint).toBe(fp);
    expect(logs.some((l) => l.includes(fp))).toBe(true);
    expect(await sh(a, "stat -c '%a %u' /usr/local/share/ca-certificates/bottle-ca.crt")).toBe("644 0");
    const body = caPem.split("\n").filter((l) => l && !l.startsWith("-----"))[1]!;
    expect(await sh(a, `grep -c -F '${body}' /etc/ssl/certs/ca-certificates.crt`)).toBe("1");
    expect(await sh(a, "readlink /etc/ssl/certs/bottle-ca.pem")).toBe("/usr/local/share/ca-certificates/bottle-ca.crt");
  });

  it("git rewrites the upstream to the gate by IP, for the agent user too", async () => {
    const r = await backend.exec(result.plan, ["git", "config", "--get-regexp", "^url\\."]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`url.git://${result.bundleAddress}:9418/app.git.insteadof https://github.com/acme/app.git`);
    expect(r.stdout).toContain(`url.git://${result.bundleAddress}:9418/app.git.insteadof git@github.com:acme/app.git`);
  });

  it("registers supervise over MCP, or logs the non-fatal failure when claude is absent", async () => {
    const hasClaude = (await backend.exec(result.plan, ["sh", "-c", "command -v claude"])).exitCode === 0;
    if (hasClaude) {
      expect(result.warnings).toEqual([]);
      const config = await sh(plan0.machines.agent, "cat /home/node/.claude.json");
      expect(config).toContain(`http://${result.bundleAddress}:9100/mcp`);
      expect(config).toContain('"supervise"');
    } else {
      expect(result.warnings[0]).toMatch(/^supervise MCP registration failed \(non-fatal\)/);
      expect(logs.some((l) => l.includes("supervise MCP registration failed (non-fatal)"))).toBe(true);
    }
    const mcp = sent.find((a) => a.includes("mcp"));
    expect(mcp?.slice(-7)).toEqual(["claude", "mcp", "add", "--transport", "http", "supervise", `http://${result.bundleAddress}:9100/mcp`]);
  });

  it("prompt, skills and the workspace copy (with .git) belong to node with the intended modes", async () => {
    const a = plan0.machines.agent;
    expect(await sh(a, "stat -c '%U:%G %a' /home/node/.bottle /home/node/.bottle/prompt.md")).toBe("node:node 700\nnode:node 600");
    expect(await sh(a, "cat /home/node/.bottle/prompt.md")).toBe("You review code.");
    expect(await sh(a, "stat -c '%U:%G %a' /home/node/.claude/skills/review/SKILL.md /home/node/.claude/skills/review/bin/check.sh")).toBe(
      "node:node 644\nnode:node 755",
    );
    expect(await sh(a, "stat -c '%U:%G' /workspace/README.md /workspace/.git/HEAD")).toBe("node:node\nnode:node");
    expect((await backend.exec(result.plan, ["cat", "/workspace/.git/HEAD"])).stdout).toBe("ref: refs/heads/main\n");
  });

  it("commands run as the agent user; the agent reaches the bundle by its address", async () => {
    expect((await backend.exec(plan0.slug, ["id", "-un"])).stdout.trim()).toBe("node");
    const r = await backend.exec(result.plan, ["curl", "-fsS", "--max-time", "5", `http://${result.bundleAddress}:9000/healthz`]);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, path: "/healthz" });
  });

  it("reload replaces routes.json by rename and signals each reloadable daemon through the supervisor", async () => {
    const routes = '{"version":1,"routes":[{"id":"r0-example.com"}]}\n';
    const signalled = await backend.reload(result.plan, [{ path: "/etc/bottle/routes.json", content: routes, mode: 0o644 }]);
    expect(signalled).toEqual(["egress"]);
    expect(await sh(plan0.machines.bundle, "cat /etc/bottle/routes.json; ls /etc/bottle | grep -c bottle-new || true")).toBe(`${routes.trim()}\n0`);
    // from the state dir, as `bottle apply` writes it (temp-then-rename on the host)
    const routes2 = '{"version":1,"routes":[{"id":"r1-api.example.com"}]}\n';
    await writeFile(path.join(tmp, "state", "config", "routes.json"), routes2);
    expect(await backend.reload(result.plan, { stateDir: path.join(tmp, "state") })).toEqual(["egress"]);
    expect(await sh(plan0.machines.bundle, "cat /etc/bottle/routes.json; stat -c '%a' /run/bottle/secrets/secrets.json")).toBe(`${routes2.trim()}\n600`);
    // /var/lib/bottle is the host's <state>/bundle
    expect(await readFile(path.join(bundleStateDir, "signals.log"), "utf8")).toBe("egress HUP\negress HUP\n");
  });

  it("logs, list and errors", async () => {
    expect(await backend.logs(plan0.slug)).toContain("fake supervisor: run --config /etc/bottle/daemons.json");
    const listing = (await backend.list()).find((b) => b.slug === plan0.slug);
    expect(listing?.machines.map((m) => `${m.role} ${m.state}`).sort()).toEqual(["agent running", "bundle running"]);

    const missing = await cli.run(machineExecArgs(`${plan0.machines.bundle}-missing`, ["true"])).catch((e: unknown) => e);
    expect(BottleError.isInstance(missing) && missing.code).toBe("SMOLVM_MACHINE_NOT_FOUND");
    const idle = `${plan0.composeProject}-idle`;
    const firstCreate = sent.find((a) => a[1] === "create")!;
    await cli.run(machineCreateArgs({ name: idle, image: firstCreate[firstCreate.indexOf("--image") + 1]!, labels: plan0.labels }));
    const notRunning = await cli.run(machineExecArgs(idle, ["true"])).catch((e: unknown) => e);
    expect(BottleError.isInstance(notRunning) && notRunning.code).toBe("SMOLVM_NOT_RUNNING");
  });

  it("stop keeps the bundle log and removes both machines; cleanup reaps leftovers by label", async () => {
    const logsDir = path.join(tmp, "logs");
    await mkdir(logsDir);
    const before = sent.length;
    await backend.stop(plan0, { logsDir });
    const { bundle, agent } = plan0.machines;
    expect(sent.slice(before).filter((a) => a[1] !== "exec")).toEqual([
      ["machine", "status", "--name", agent, "--json"],
      ["machine", "stop", "--name", agent],
      ["machine", "delete", "--name", agent, "--force"],
      ["machine", "status", "--name", bundle, "--json"],
      ["machine", "stop", "--name", bundle],
      ["machine", "delete", "--name", bundle, "--force"],
    ]);
    expect(await readFile(path.join(logsDir, "bundle.log"), "utf8")).toContain("fake supervisor");
    const after = (await backend.list()).find((b) => b.slug === plan0.slug);
    expect(after?.machines.map((m) => m.name)).toEqual([`${plan0.composeProject}-idle`]);
    expect(await backend.cleanup({ slug: plan0.slug })).toEqual([`${plan0.composeProject}-idle`]);
    expect((await backend.list()).find((b) => b.slug === plan0.slug)).toBeUndefined();
  });

  it("imageArchive saves a USER root derivative smolvm can load, once per image id", async () => {
    const cacheDir = path.join(tmp, "archive-cache");
    const file = await imageArchive("bottle/base:bookworm", { cacheDir });
    expect(file).toMatch(new RegExp(`^${cacheDir}/[0-9a-f]{16}\\.tar$`));
    const manifest = JSON.parse((await execa("tar", ["-xOf", file, "manifest.json"])).stdout) as { Config: string; RepoTags: string[] }[];
    expect(manifest[0]?.RepoTags).toEqual(["bottle/base:bookworm-smolvm"]);
    const config = JSON.parse((await execa("tar", ["-xOf", file, manifest[0]!.Config])).stdout) as { config: { User?: string; Labels?: Record<string, string> } };
    expect(config.config.User).toBe("root");
    expect(config.config.Labels?.["dev.bottle.smolvm-derived"]).toBe("1");
    const before = (await stat(file)).mtimeMs;
    expect(await imageArchive("bottle/base:bookworm", { cacheDir })).toBe(file);
    expect((await stat(file)).mtimeMs).toBe(before);
  });

  it("doctor reports the smolvm version and /dev/kvm", async () => {
    const report = await backend.doctor();
    const smolvm = report.checks.find((c) => c.name === "smolvm");
    expect(smolvm?.ok).toBe(true);
    expect(smolvm?.detail).toContain(`${bin}: smolvm 1.9.3`);
    expect(report.checks.map((c) => c.name)).toContain(process.platform === "darwin" ? "hypervisor" : "/dev/kvm");
  });
});
