// The backends behind the one contract of @bottle/backend. The CLI dispatches on
// `plan.backend` through this table and holds no backend-specific code. Each package
// loads on first use: a command that needs none (validate without a backend, plan)
// does not pay for their dependencies.
import { checkSpecVersion, type BackendName, type BottleBackend } from "@bottle/backend";
import { imageTags } from "./images.js";

const loaders: Record<BackendName, () => Promise<BottleBackend>> = {
  docker: async () => {
    const tags = imageTags();
    return (await import("@bottle/backend-docker")).createDockerBackend({ images: [tags.sidecars, tags.agent] });
  },
  smolvm: async () => (await import("@bottle/backend-smolvm")).createSmolvmBottleBackend(),
};

export const BACKEND_NAMES = Object.keys(loaders) as BackendName[];

/** The backend a plan (or a started bottle's metadata) names. */
export async function backendFor(target: { backend: BackendName }): Promise<BottleBackend> {
  const backend = await loaders[target.backend]();
  checkSpecVersion(backend);
  return backend;
}

/** Every backend, docker first (ls, cleanup and doctor ask them all). */
export async function allBackends(): Promise<BottleBackend[]> {
  return Promise.all(BACKEND_NAMES.map((name) => backendFor({ backend: name })));
}

/** The backend a manifest gets when it names none; the one `doctor` requires. */
export const DEFAULT_BACKEND: BackendName = "docker";
