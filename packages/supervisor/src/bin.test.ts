import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, beforeEach, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
let dir: string;
let procs: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm turbo run build --filter @bottle/supervisor)`);
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "bottle-supervisor-bin-"));
});
afterEach(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  procs = [];
  await rm(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function run(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  procs.push(child);
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => out, exit };
}

async function waitFor(probe: () => boolean | Promise<boolean>, what: string, context: () => string = () => "") {
  const until = Date.now() + 15_000;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

it("bin: health command, SIGHUP forwarding to reloadable daemons, SIGTERM exits 0", async () => {
  const port = await freePort();
  const script = join(dir, "d.mjs");
  await writeFile(
    script,
    `import { appendFileSync } from "node:fs";
const name = process.env.NAME;
process.on("SIGHUP", () => appendFileSync(${JSON.stringify(dir)} + "/" + name + ".log", "SIGHUP\\n"));
process.on("SIGTERM", () => process.exit(0));
console.log("up");
setInterval(() => {}, 1000);
`,
  );
  const daemons = ["egress", "git-gate"].map((name) => ({
    name,
    command: [process.execPath, script],
    env: { NAME: name },
    cwd: dir,
    reloadable: name === "egress",
  }));
  await writeFile(join(dir, "daemons.json"), JSON.stringify({ healthPort: port, daemons }));

  // Nothing listens yet: the health command fails.
  const before = run(["health", "--port", String(port)]);
  expect(await before.exit).toBe(1);

  const sup = run(["--config", join(dir, "daemons.json"), "--health-host", "127.0.0.1"]);
  await waitFor(
    () => sup.output().includes("[egress] up") && sup.output().includes("[git-gate] up"),
    "daemons up",
    sup.output,
  );
  const health = run(["health", "--port", String(port)]);
  expect(await health.exit).toBe(0);
  expect(JSON.parse(health.output())).toMatchObject({
    daemons: [
      { name: "egress", state: "running" },
      { name: "git-gate", state: "running" },
    ],
  });

  sup.child.kill("SIGHUP");
  await waitFor(() => existsSync(join(dir, "egress.log")), "HUP at egress", sup.output);
  const signalled = run(["signal", "git-gate", "HUP", "--port", String(port)]);
  expect(await signalled.exit).toBe(0);
  await waitFor(() => existsSync(join(dir, "git-gate.log")), "HUP at git-gate", sup.output);
  const unknown = run(["signal", "nope", "HUP", "--port", String(port)]);
  expect(await unknown.exit).toBe(1);

  sup.child.kill("SIGTERM");
  expect(await sup.exit).toBe(0);
  expect(sup.output()).toContain("[supervisor] all daemons stopped");
  expect(await readFile(join(dir, "egress.log"), "utf8")).toBe("SIGHUP\n");
  expect(await readFile(join(dir, "git-gate.log"), "utf8")).toBe("SIGHUP\n");
});

it("bin: a bad config prints one clear message and exits 2", async () => {
  await writeFile(join(dir, "daemons.json"), JSON.stringify({ healthPort: 9000, daemons: [{ name: "x" }] }));
  const sup = run(["--config", join(dir, "daemons.json")]);
  expect(await sup.exit).toBe(2);
  expect(sup.output()).toMatch(/daemons\[0\] \(x\)\.command must be a non-empty array of strings\nhint: /);
  expect(sup.output()).not.toContain("    at ");
});
