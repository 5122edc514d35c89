import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { examplePlan } from "./__fixtures__/plan.js";
import { DEFAULT_AGENT_MEMORY, DEFAULT_AGENT_PIDS, renderCompose } from "./compose.js";

const stateDir = "/home/dev/.local/state/bottle/implementer-0000";
type Service = Record<string, any>;

function parsed(yamlText: string) {
  return parse(yamlText) as { version: string; services: Record<string, Service>; networks: Record<string, any> };
}

describe("renderCompose", () => {
  const plan = examplePlan();
  const text = renderCompose(plan, { stateDir, homeDir: "/home/dev" });
  const doc = parsed(text);
  const bundle = doc.services.bundle!;
  const agent = doc.services.agent!;

  it("matches the snapshot", () => {
    expect(text).toMatchSnapshot();
  });

  it("runs the agent under the plan's runtime (gVisor: runsc), the bundle under the engine's default", () => {
    expect(agent.runtime).toBeUndefined();
    const gvisor = parsed(renderCompose({ ...plan, agent: { ...plan.agent, runtime: "runsc" } }, { stateDir, homeDir: "/home/dev" }));
    expect(gvisor.services.agent!.runtime).toBe("runsc");
    expect(gvisor.services.bundle!.runtime).toBeUndefined();
    expect(parsed(renderCompose({ ...plan, agent: { ...plan.agent, runtime: "runc" } }, { stateDir, homeDir: "/home/dev" })).services.agent!.runtime).toBeUndefined();
  });

  it("is deterministic", () => {
    expect(renderCompose(examplePlan(), { stateDir, homeDir: "/home/dev" })).toBe(text);
  });

  it("puts the agent on the internal network only, the bundle on both with its aliases", () => {
    expect(Object.keys(agent.networks)).toEqual(["internal"]);
    expect(Object.keys(bundle.networks).sort()).toEqual(["egress", "internal"]);
    expect(bundle.networks.internal.aliases).toEqual(["egress", "git-gate", "supervise", "pipelock"]);
    expect(doc.networks).toEqual({
      internal: { external: true, name: plan.networks.internal },
      egress: { external: true, name: plan.networks.egress },
    });
  });

  it("never mounts the docker socket and hardens both containers", () => {
    expect(text).not.toMatch(/docker\.sock/);
    for (const service of [bundle, agent]) {
      expect(service.cap_drop).toEqual(["ALL"]);
      expect(service.security_opt).toEqual(["no-new-privileges:true"]);
      expect(service.privileged).toBeUndefined();
      expect(service.labels).toMatchObject(plan.labels);
    }
    expect(agent.init).toBe(true);
    expect(agent.command).toEqual(["sleep", "infinity"]);
    expect(agent.cap_add).toEqual(["CHOWN"]);
    expect(bundle.cap_add).toEqual(["CHOWN", "DAC_OVERRIDE"]);
    expect(bundle.read_only).toBe(true);
  });

  it("binds the bundle's state dir per the bundle contract and nothing secret into the agent", () => {
    expect(bundle.volumes).toEqual([
      `${stateDir}/config:/etc/bottle:ro`,
      `${stateDir}/secrets:/run/bottle/secrets:ro`,
      `${stateDir}/bundle:/var/lib/bottle:rw`,
    ]);
    expect(agent.volumes).toBeUndefined(); // workspace mode "copy"
    expect(JSON.stringify({ ...agent, labels: {} })).not.toContain(stateDir);
    expect(agent.labels["dev.bottle.state-dir"]).toBe(stateDir);
    expect(bundle.extra_hosts).toEqual(["gitea.internal.example:10.20.0.5"]);
    expect(bundle.healthcheck.test).toEqual(["CMD", "bottle-supervisor", "health", "--port", "9000"]);
  });

  it("passes the planned agent env, limits and the healthy-bundle dependency", () => {
    expect(agent.environment).toMatchObject({ ...plan.agent.env, HOME: "/home/node" });
    expect(agent.cpus).toBe(2);
    expect(agent.mem_limit).toBe("4g");
    expect(agent.depends_on).toEqual({ bundle: { condition: "service_healthy" } });
    expect(agent.working_dir).toBe("/workspace");
  });

  it("binds the workspace in mount mode, expanding ~", () => {
    const p = examplePlan();
    const mount = { ...p, agent: { ...p.agent, workspace: { hostPath: "~/src/app", guestPath: "/workspace", mode: "mount" as const, copyGit: false } } };
    const svc = parsed(renderCompose(mount, { stateDir, homeDir: "/home/dev" })).services.agent!;
    expect(svc.volumes).toEqual(["/home/dev/src/app:/workspace:rw"]);
  });

  it("omits optional keys the plan does not set, but always limits the agent's memory and pids", () => {
    const reviewer = parsed(renderCompose(examplePlan("reviewer"), { stateDir, homeDir: "/home/dev" }));
    expect(reviewer.services.agent!.cpus).toBeUndefined();
    expect(reviewer.services.agent!.mem_limit).toBe(DEFAULT_AGENT_MEMORY);
    expect(reviewer.services.agent!.pids_limit).toBe(DEFAULT_AGENT_PIDS);
    expect(reviewer.services.bundle!.extra_hosts).toBeUndefined();
  });

  it("rejects a relative state dir", () => {
    expect(() => renderCompose(plan, { stateDir: "state" })).toThrow(/absolute/);
  });
});

// The rendered file must be valid for the compose implementation installed here (v1 1.29 on
// this machine; v2 when present). `config` validates without touching the engine.
describe("renderCompose output accepted by compose", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bottle-compose-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("passes `docker-compose config` / `docker compose config`", async () => {
    const file = path.join(dir, "compose.yaml");
    writeFileSync(file, renderCompose(examplePlan(), { stateDir: dir, homeDir: "/home/dev" }));
    const v2 = await execa("docker", ["compose", "version"], { reject: false });
    const cmd = v2.exitCode === 0 ? ["docker", "compose"] : ["docker-compose"];
    const result = await execa(cmd[0]!, [...cmd.slice(1), "-p", "bottle-test", "-f", file, "config"], { reject: false });
    expect(result.stderr).not.toMatch(/ERROR|invalid|Unsupported/i);
    expect(result.exitCode).toBe(0);
    const normalised = parse(result.stdout) as { services: Record<string, Service> };
    expect(normalised.services.agent!.init).toBe(true);
    expect(Object.keys(normalised.services.agent!.networks)).toEqual(["internal"]);
  });
});
