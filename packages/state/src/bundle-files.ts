import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { PemPair } from "@bottle/ca";
import { BottleError } from "@bottle/errors";
import type { BottlePlan, EgressRoutePlan } from "@bottle/plan";
import { mkdirPrivate, writeFileAtomic } from "./fs.js";
import { stateLayout, type StateLayout } from "./layout.js";
import { writeSecretFiles } from "./secrets.js";

export interface BundleFilesInput {
  /** Secret values by id, from resolveSecrets; written 0600 for the bundle only. */
  secrets: Record<string, string>;
  /** The bottle's internal network, for pipelock's SSRF allowlist. */
  internalCidr?: string;
  /** Routes approved live over supervise, kept across restarts of the same bottle. */
  approvedRoutes?: EgressRoutePlan[];
}

/** Creates `<state>` and its folders, all 0700 (the bundle reads them as root). */
export async function prepareStateDir(stateDir: string): Promise<StateLayout> {
  const layout = stateLayout(stateDir);
  for (const dir of [layout.root, layout.config, layout.ca, layout.gitGate, layout.secrets, layout.logs, layout.bundle, layout.requests]) {
    await mkdirPrivate(dir);
  }
  return layout;
}

/** Loads the bottle CA from the state dir, creating it on first launch. */
export async function ensureBottleCa(layout: StateLayout, plan: BottlePlan): Promise<PemPair & { fingerprint: string; created: boolean }> {
  // loaded on demand: the X.509 stack is the slowest import of every CLI command
  const { createBottleCa, fingerprintSha256 } = await import("@bottle/ca");
  const certPath = path.join(layout.ca, "ca.crt");
  const keyPath = path.join(layout.ca, "ca.key");
  let created = false;
  let pair: PemPair;
  try {
    pair = { certPem: await readFile(certPath, "utf8"), keyPem: await readFile(keyPath, "utf8") };
  } catch {
    pair = await createBottleCa({ commonName: `bottle CA ${plan.slug}` });
    await mkdirPrivate(layout.ca);
    await writeFileAtomic(certPath, pair.certPem, 0o644);
    await writeFileAtomic(keyPath, pair.keyPem, 0o600);
    created = true;
  }
  return { ...pair, fingerprint: fingerprintSha256(pair.certPem), created };
}

/**
 * Renders every file the bundle reads (routes, daemons, gate scripts, pipelock config,
 * upstream CA bundle) and the secrets it holds, into the state dir. Config files are
 * replaced by rename so a running bundle never reads half a file.
 */
export async function writeBundleFiles(layout: StateLayout, plan: BottlePlan, input: BundleFilesInput): Promise<void> {
  const ca = await ensureBottleCa(layout, plan);
  const paths = plan.bundle.paths;

  await writeFileAtomic(path.join(layout.config, "daemons.json"), `${JSON.stringify({ healthPort: plan.bundle.ports.health, daemons: plan.bundle.daemons }, null, 2)}\n`, 0o644);
  await writeRoutes(layout, plan, input.approvedRoutes ?? []);

  if (plan.git.upstreams.length > 0) {
    const { renderGitGate } = await import("@bottle/git-gate-render");
    const gate = renderGitGate(plan);
    for (const file of gate.files) {
      await writeFileAtomic(path.join(layout.config, path.relative(paths.config, file.path)), file.content, file.mode);
    }
  }

  if (plan.pipelock.enabled) {
    if (!input.internalCidr) throw new BottleError("pipelock needs the internal network's CIDR", { code: "STATE_NO_CIDR" });
    const { renderPipelockConfig, renderPipelockSecretsFile } = await import("@bottle/pipelock");
    const yaml = renderPipelockConfig(plan, {
      internalCidr: input.internalCidr,
      secretsFile: `${paths.secrets}/pipelock-secrets.txt`,
      caCert: `${paths.ca}/ca.crt`,
      caKey: `${paths.ca}/ca.key`,
    });
    await writeFileAtomic(path.join(layout.config, "pipelock.yaml"), yaml, 0o644);
    await writeFileAtomic(path.join(layout.secrets, "pipelock-secrets.txt"), renderPipelockSecretsFile(Object.values(input.secrets)), 0o600);
  }

  const upstreamCa = [plan.ca.extraCaBundle ? await readExtraCa(plan.ca.extraCaBundle) : "", plan.ca.egressTrustsBottleCaUpstream ? ca.certPem : ""].filter(Boolean).join("\n");
  if (upstreamCa) await writeFileAtomic(path.join(layout.ca, "upstream-ca.pem"), upstreamCa, 0o644);

  await writeSecretFiles(plan, layout.root, input.secrets);
}

/**
 * Renders the bundle's config for `plan` in memory, writing nothing: what writeBundleFiles
 * would refuse, this refuses too, before a network or container exists. `validate` and
 * `start` both run it. The internal network's CIDR is not known yet; a placeholder stands in.
 */
export async function checkBundleConfig(plan: BottlePlan): Promise<void> {
  const { renderRoutesFile, parseRoutesFile } = await import("@bottle/egress");
  parseRoutesFile(renderRoutesFile(plan));
  if (plan.git.upstreams.length > 0) (await import("@bottle/git-gate-render")).renderGitGate(plan);
  if (plan.pipelock.enabled) {
    const paths = plan.bundle.paths;
    (await import("@bottle/pipelock")).renderPipelockConfig(plan, {
      internalCidr: "10.0.0.0/24",
      secretsFile: `${paths.secrets}/pipelock-secrets.txt`,
      caCert: `${paths.ca}/ca.crt`,
      caKey: `${paths.ca}/ca.key`,
    });
  }
}

/** Re-renders routes.json (manifest routes + approved ones); an invalid result is never written. */
export async function writeRoutes(layout: StateLayout, plan: BottlePlan, approvedRoutes: EgressRoutePlan[]): Promise<string> {
  const { renderRoutesFile, parseRoutesFile } = await import("@bottle/egress");
  const text = renderRoutesFile(plan, approvedRoutes);
  parseRoutesFile(text);
  const file = path.join(layout.config, "routes.json");
  await writeFileAtomic(file, text, 0o644);
  return file;
}

export async function readApprovedRoutes(layout: StateLayout): Promise<EgressRoutePlan[]> {
  try {
    return JSON.parse(await readFile(layout.approvedRoutes, "utf8")) as EgressRoutePlan[];
  } catch {
    return [];
  }
}

export async function addApprovedRoute(layout: StateLayout, route: EgressRoutePlan): Promise<EgressRoutePlan[]> {
  const routes = mergeApprovedRoute(await readApprovedRoutes(layout), route);
  await writeFileAtomic(layout.approvedRoutes, `${JSON.stringify(routes, null, 2)}\n`, 0o600);
  return routes;
}

/**
 * `routes` with `route` added: a second approval for a host already approved widens that
 * route (ports and methods joined; no method limit stays no limit) instead of adding a
 * duplicate. Pure.
 */
export function mergeApprovedRoute(routes: readonly EgressRoutePlan[], route: EgressRoutePlan): EgressRoutePlan[] {
  const others = routes.filter((r) => r.id !== route.id);
  const same = others.findIndex((r) => r.host === route.host && r.passthrough === route.passthrough && r.inject.length === 0 && route.inject.length === 0);
  if (same === -1) return [...others, route];
  const existing = others[same]!;
  const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])];
  const merged: EgressRoutePlan = {
    ...existing,
    ports: [...new Set([...existing.ports, ...route.ports])].sort((a, b) => a - b),
    methods: existing.methods.length === 0 || route.methods.length === 0 ? [] : union(existing.methods, route.methods),
    paths: existing.paths.length === 0 || route.paths.length === 0 ? [] : union(existing.paths, route.paths),
  };
  return others.map((r, i) => (i === same ? merged : r));
}

/** Drops approved route `id`; returns the approved routes left (unchanged file when absent). */
export async function removeApprovedRoute(layout: StateLayout, id: string): Promise<EgressRoutePlan[]> {
  const before = await readApprovedRoutes(layout);
  const routes = before.filter((r) => r.id !== id);
  if (routes.length !== before.length) await writeFileAtomic(layout.approvedRoutes, `${JSON.stringify(routes, null, 2)}\n`, 0o600);
  return routes;
}

async function readExtraCa(file: string): Promise<string> {
  try {
    if (!(await stat(file)).isFile()) throw new Error("not a file");
    return await readFile(file, "utf8");
  } catch {
    throw new BottleError(`extraCaBundle ${file} cannot be read`, { code: "STATE_EXTRA_CA", hint: "point extraCaBundle at a PEM bundle, e.g. /etc/ssl/certs/ca-certificates.crt" });
  }
}
