import type { DoctorCheck } from "@bottle/backend";
import { BottleError } from "@bottle/errors";
import type { BottlePlan } from "@bottle/plan";
import { DEFAULT_TOOLS, run, type DockerTools } from "./exec.js";

/** The OCI runtimes the engine lists (`docker info` .Runtimes), e.g. ["runc", "runsc"]. */
export async function engineRuntimes(tools: DockerTools = DEFAULT_TOOLS): Promise<string[]> {
  const result = await run(tools.docker, ["info", "--format", "{{json .Runtimes}}"]);
  if (result.exitCode !== 0) return [];
  try {
    return Object.keys(JSON.parse(result.stdout) as Record<string, unknown>).sort();
  } catch {
    return [];
  }
}

/** Whether gVisor's runsc is registered with the engine (optional: only `agent.runtime: "runsc"` needs it). */
export function runscCheck(runtimes: readonly string[]): DoctorCheck {
  return runtimes.includes("runsc")
    ? { name: "runtime runsc (gVisor)", ok: true, detail: "registered with the engine", optional: true }
    : {
        name: "runtime runsc (gVisor)",
        ok: false,
        optional: true,
        detail: "not registered with the engine (needed only for agent.runtime \"runsc\")",
        hint: 'install Debian\'s runsc package and add {"runtimes":{"runsc":{"path":"/usr/bin/runsc","runtimeArgs":["--network=host"]}}} to /etc/docker/daemon.json, then reload dockerd (SIGHUP); see packages/backend-docker/README.md',
      };
}

/** Refuses a plan whose agent runtime the engine does not list, before anything is created. */
export async function assertAgentRuntime(plan: BottlePlan, tools: DockerTools = DEFAULT_TOOLS): Promise<void> {
  const runtime = plan.agent.runtime;
  if (runtime === undefined || runtime === "runc") return;
  const listed = await engineRuntimes(tools);
  if (listed.includes(runtime)) return;
  throw new BottleError(`the docker engine has no runtime "${runtime}" (agent.runtime of ${plan.bottle}); it lists ${listed.join(", ") || "none"}`, {
    code: "DOCKER_RUNTIME_MISSING",
    hint: runscCheck(listed).hint ?? "register the runtime in /etc/docker/daemon.json",
  });
}
