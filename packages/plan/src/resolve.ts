import { createHash } from "node:crypto";
import path from "node:path";
import { BottleError } from "@bottle/errors";
import { closest, type BottleSpec, type Manifest, type SecretRef } from "@bottle/manifest";
import {
  AGENT_CA_BUNDLE,
  AGENT_CA_PATH,
  AGENT_USER,
  AGENT_WORKSPACE,
  BUNDLE_HOSTNAMES,
  BUNDLE_PATHS,
  BUNDLE_PORTS,
  DEFAULT_IMAGES,
  LABELS,
  PROXY_ENV_KEYS,
} from "./constants.js";
import { gitTransport, insteadOfForms, mergeExtraHosts } from "./git.js";
import { CLAUDE_CODE_SANDBOX_ENV, planModel } from "./model.js";
import { refuseMountedSecrets, secretFilesInWorkspace } from "./workspace-secrets.js";
import type { BottlePlan, DaemonSpec, EgressRoutePlan, GitUpstreamPlan, ModelPlan, PlannedSecret, ProxyHop, SecretSource } from "./types.js";

export interface ResolvePlanOptions {
  /** Absolute path of the manifest file; relative paths in it resolve against its folder. */
  manifestPath: string;
  /** Overrides the manifest's backend (`--backend`). */
  backend?: "docker" | "smolvm";
  /** Overrides the workspace folder (`--cwd`). Absolute. */
  workspace?: string;
  /** smolvm only: the bundle machine's address, used instead of docker's network aliases. */
  bundleAddress?: string;
  /** Tags of the images the caller built (the CLI: `bottle/<name>:<version>-<hash>`); a manifest's agent.image still wins. */
  images?: { agent?: string; sidecars?: string };
}

/** Pure: manifest + options → BottlePlan. Same input gives byte-identical JSON. */
export function resolvePlan(manifest: Manifest, bottleName: string, options: ResolvePlanOptions): BottlePlan {
  // Own keys only: "constructor" or "toString" must not find Object.prototype's members.
  const spec = Object.hasOwn(manifest.bottles, bottleName) ? manifest.bottles[bottleName] : undefined;
  if (!spec) {
    const names = Object.keys(manifest.bottles);
    const guess = closest(bottleName, names);
    throw new BottleError(`no bottle named "${bottleName}" in ${options.manifestPath}`, {
      code: "PLAN_UNKNOWN_BOTTLE",
      hint: guess ? `did you mean "${guess}"?` : names.length ? `bottles: ${names.join(", ")}` : "the manifest defines no bottles",
    });
  }
  if (!path.isAbsolute(options.manifestPath)) {
    throw new BottleError(`manifestPath must be absolute, got "${options.manifestPath}"`, { code: "PLAN_BAD_OPTIONS" });
  }
  const manifestDir = path.dirname(options.manifestPath);
  const hostPath = (p: string) => (p.startsWith("~/") || path.isAbsolute(p) ? p : path.resolve(manifestDir, p));

  const backend = options.backend ?? spec.backend;
  const slug = bottleSlug(bottleName, options.manifestPath);
  const prefix = `bottle-${slug}`;
  const hostnames =
    backend === "smolvm"
      ? smolvmHostnames(options.bundleAddress)
      : { ...BUNDLE_HOSTNAMES };

  const secrets: PlannedSecret[] = [];
  const model = spec.model ? planModel(spec.model, secretSource(spec.model.credential, hostPath)) : undefined;
  if (model) secrets.push(model.secret);
  const manifestRoutes = spec.egress.routes.map((route, index): EgressRoutePlan => {
    const id = `r${index}-${route.host.replace(/^\*\./, "wildcard.")}`;
    return {
      id,
      host: route.host,
      ports: [...route.ports],
      methods: [...route.methods],
      paths: [...route.paths],
      inject: Object.entries(route.inject).map(([header, injection]) => {
        const secretId = `route.${id}.${header.toLowerCase()}`;
        secrets.push({ id: secretId, source: secretSource(injection.env !== undefined ? { env: injection.env } : { file: injection.file! }, hostPath), usedBy: "egress" });
        return { header: header.toLowerCase(), secret: secretId, prefix: injection.prefix };
      }),
      passthrough: route.passthrough,
      scan: route.scan,
      onFinding: route.onFinding,
      ...(route.scheme === "http" ? { scheme: "http" as const } : {}),
    };
  });
  // The model route comes first: it is the one route every Claude Code bottle needs.
  const routes = model ? [model.route, ...manifestRoutes] : manifestRoutes;

  const gateBase = backend === "smolvm" ? `git://${hostnames.gitGate}:${BUNDLE_PORTS.gitGate}` : `git://${hostnames.gitGate}`;
  const upstreams = spec.git.upstreams.map((up): GitUpstreamPlan => {
    let credential: string | undefined;
    if (up.credential) {
      credential = `git.${up.name}.credential`;
      secrets.push({ id: credential, source: secretSource(up.credential, hostPath), usedBy: "git-gate" });
    }
    return {
      name: up.name,
      url: up.url,
      transport: gitTransport(up.url),
      ...(credential ? { credential } : {}),
      username: up.username,
      ...(up.knownHostKey ? { knownHostKey: up.knownHostKey.trim() } : {}),
      protectedBranches: [...up.protectedBranches],
      allowedRefs: [...up.allowedRefs],
      extraHosts: { ...up.extraHosts },
      gateUrl: `${gateBase}/${up.name}.git`,
      insteadOf: insteadOfForms(up.url),
    };
  });
  const gitExtraHosts = mergeExtraHosts(spec.git.upstreams);

  const pipelockOn = spec.pipelock.enabled;
  const egressUrl = `http://${hostnames.egress}:${BUNDLE_PORTS.egress}`;
  const proxyChain: ProxyHop[] = [
    { name: "agent" },
    { name: "egress", url: egressUrl },
    ...(pipelockOn ? [{ name: "pipelock" as const, url: `http://127.0.0.1:${BUNDLE_PORTS.pipelock}` }] : []),
    { name: "internet" },
  ];
  const extraCaBundle = manifest.extraCaBundle ? hostPath(manifest.extraCaBundle) : undefined;

  const daemons = bundleDaemons({ pipelock: pipelockOn, git: upstreams.length > 0, supervise: spec.supervise.enabled, upstreamCa: pipelockOn || extraCaBundle !== undefined });
  const superviseUrl = `http://${hostnames.supervise}:${BUNDLE_PORTS.supervise}/mcp`;

  return {
    planVersion: 1,
    bottle: bottleName,
    slug,
    backend,
    manifestPath: options.manifestPath,
    labels: { [LABELS.managed]: "true", [LABELS.slug]: slug, [LABELS.bottle]: bottleName },
    composeProject: prefix,
    networks: { internal: `${prefix}-internal`, egress: `${prefix}-egress` },
    machines: { bundle: `${prefix}-bundle`, agent: `${prefix}-agent` },
    bundle: {
      image: options.images?.sidecars ?? DEFAULT_IMAGES.sidecars,
      hostnames,
      ports: { ...BUNDLE_PORTS },
      paths: { ...BUNDLE_PATHS },
      daemons,
      extraHosts: gitExtraHosts,
    },
    proxyChain,
    ca: { agentTrusts: "bottle-ca", egressTrustsBottleCaUpstream: pipelockOn, ...(extraCaBundle ? { extraCaBundle } : {}) },
    routes,
    secrets,
    git: { upstreams, extraHosts: gitExtraHosts },
    supervise: { enabled: spec.supervise.enabled, url: superviseUrl },
    pipelock: { enabled: pipelockOn, mode: spec.pipelock.mode, blocklist: [...spec.pipelock.blocklist] },
    agent: agentPlan(spec, { egressUrl, hostnames, hostPath, workspace: options.workspace, image: options.images?.agent, model: model?.plan, secrets }),
  };
}

/** `<name>-<8 hex>`: stable for one manifest file and bottle, distinct across projects. */
export function bottleSlug(bottleName: string, manifestPath: string): string {
  const digest = createHash("sha256").update(`${manifestPath}\0${bottleName}`).digest("hex").slice(0, 8);
  return `${bottleName}-${digest}`;
}

function smolvmHostnames(address: string | undefined) {
  const ip = address ?? "127.0.0.1";
  return { egress: ip, gitGate: ip, supervise: ip, pipelock: ip };
}

function secretSource(ref: SecretRef, hostPath: (p: string) => string): SecretSource {
  return "env" in ref ? { env: ref.env } : { file: hostPath(ref.file) };
}

function bundleDaemons(on: { pipelock: boolean; git: boolean; supervise: boolean; upstreamCa: boolean }): DaemonSpec[] {
  const p = BUNDLE_PATHS;
  const daemons: DaemonSpec[] = [];
  if (on.pipelock) {
    daemons.push({ name: "pipelock", command: ["pipelock", "run", "--config", `${p.config}/pipelock.yaml`], env: {}, cwd: p.state, reloadable: true });
  }
  daemons.push({
    name: "egress",
    command: [
      "bottle-egress",
      "--listen", `0.0.0.0:${BUNDLE_PORTS.egress}`,
      "--routes", `${p.config}/routes.json`,
      "--secrets", `${p.secrets}/secrets.json`,
      "--ca-cert", `${p.ca}/ca.crt`,
      "--ca-key", `${p.ca}/ca.key`,
      "--audit", `${p.state}/audit/egress.jsonl`,
      ...(on.pipelock ? ["--upstream-proxy", `http://127.0.0.1:${BUNDLE_PORTS.pipelock}`] : []),
      ...(on.upstreamCa ? ["--upstream-ca", `${p.ca}/upstream-ca.pem`] : []),
    ],
    env: {},
    cwd: p.state,
    reloadable: true,
  });
  if (on.git) {
    daemons.push({ name: "git-gate", command: ["sh", `${p.config}/git-gate/entrypoint.sh`], env: {}, cwd: p.state, reloadable: false });
  }
  if (on.supervise) {
    daemons.push({
      name: "supervise",
      command: ["bottle-supervise", "--listen", `0.0.0.0:${BUNDLE_PORTS.supervise}`, "--state", `${p.state}/requests`],
      env: {},
      cwd: p.state,
      reloadable: false,
    });
  }
  return daemons;
}

function agentPlan(
  spec: BottleSpec,
  ctx: {
    egressUrl: string;
    hostnames: BottlePlan["bundle"]["hostnames"];
    hostPath: (p: string) => string;
    workspace: string | undefined;
    image: string | undefined;
    model: ModelPlan | undefined;
    secrets: readonly PlannedSecret[];
  },
): BottlePlan["agent"] {
  for (const key of Object.keys(spec.agent.env)) {
    if ((PROXY_ENV_KEYS as readonly string[]).includes(key)) {
      throw new BottleError(`agent.env may not set ${key}: the plan routes all traffic through egress`, {
        code: "PLAN_PROXY_ENV",
        hint: "Remove it; to let the agent reach a host, add an egress route.",
      });
    }
  }
  const noProxy = [...new Set(["localhost", "127.0.0.1", ctx.hostnames.gitGate, ctx.hostnames.supervise])].join(",");
  const env: Record<string, string> = {
    ...CLAUDE_CODE_SANDBOX_ENV,
    ...spec.agent.env,
    ...ctx.model?.env,
    HTTP_PROXY: ctx.egressUrl,
    HTTPS_PROXY: ctx.egressUrl,
    http_proxy: ctx.egressUrl,
    https_proxy: ctx.egressUrl,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    NODE_EXTRA_CA_CERTS: AGENT_CA_PATH,
    SSL_CERT_FILE: AGENT_CA_BUNDLE,
    REQUESTS_CA_BUNDLE: AGENT_CA_BUNDLE,
    GIT_SSL_CAINFO: AGENT_CA_BUNDLE,
  };
  const ws = spec.workspace;
  const workspaceHost = ctx.workspace ?? (ws ? ctx.hostPath(ws.path) : undefined);
  const mode = ws?.mode ?? "copy";
  // A secret file inside the workspace must not reach the agent: left out of a copy; a mount cannot hide it.
  const secretFiles = secretFilesInWorkspace(ctx.secrets, workspaceHost);
  if (workspaceHost && secretFiles.length > 0 && mode === "mount") throw refuseMountedSecrets(secretFiles, workspaceHost);
  const exclude = [...new Set(secretFiles.map((f) => f.relative))].sort();
  return {
    // the manifest's own image wins; else the caller's build (the CLI's versioned tag)
    image: spec.agent.image ?? ctx.image ?? DEFAULT_IMAGES.agent,
    user: AGENT_USER.name,
    home: AGENT_USER.home,
    command: [...spec.agent.command],
    env,
    ...(spec.agent.cpus !== undefined ? { cpus: spec.agent.cpus } : {}),
    ...(spec.agent.memory !== undefined ? { memory: spec.agent.memory } : {}),
    ...(spec.agent.runtime !== undefined ? { runtime: spec.agent.runtime } : {}),
    caPath: AGENT_CA_PATH,
    workdir: AGENT_WORKSPACE,
    ...(ctx.model ? { model: ctx.model } : {}),
    ...(spec.agent.prompt ? { prompt: { hostPath: ctx.hostPath(spec.agent.prompt), guestPath: `${AGENT_USER.home}/.bottle/prompt.md` } } : {}),
    skills: spec.agent.skills.map((dir) => ({
      hostPath: ctx.hostPath(dir),
      guestPath: `${AGENT_USER.home}/.claude/skills/${path.basename(dir.replace(/\/+$/, ""))}`,
    })),
    ...(workspaceHost
      ? { workspace: { hostPath: workspaceHost, guestPath: AGENT_WORKSPACE, mode, copyGit: ws?.copyGit ?? false, ...(exclude.length > 0 ? { exclude } : {}) } }
      : {}),
  };
}
