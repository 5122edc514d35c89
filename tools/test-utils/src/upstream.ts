// Test-only: the "internet" a bottle talks to in the escape battery and the demo. An
// upstream container with an HTTPS echo server (cert from a test CA the bottle trusts
// through extraCaBundle), a UDP recorder and an sshd with a bare repo `app.git`.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createBottleCa, loadBottleCa, mintLeafCertificate } from "@bottle/ca";

export const UPSTREAM_IMAGE = "bottle-test/upstream:latest";
const here = path.dirname(fileURLToPath(import.meta.url));

export function docker(args: string[], input?: string): string {
  return execFileSync("docker", args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 }).trim();
}

export function dockerOk(args: string[]): boolean {
  try {
    docker(args);
    return true;
  } catch {
    return false;
  }
}

export function buildUpstreamImage(): void {
  const ctx = mkdtempSync(path.join(os.tmpdir(), "bottle-upstream-ctx-"));
  for (const f of ["Dockerfile", "entrypoint.sh", "server.mjs"]) copyFileSync(path.join(here, "..", "assets", "upstream", f), path.join(ctx, f));
  copyFileSync(process.execPath, path.join(ctx, "node"));
  execFileSync("docker", ["build", "-q", "-t", UPSTREAM_IMAGE, ctx], { stdio: ["ignore", "ignore", "inherit"] });
}

export interface UpstreamMaterial {
  dir: string;
  /** PEM of the CA that signed the upstream's TLS certificate (for extraCaBundle). */
  caFile: string;
  /** Private key the gate uses to push (the bottle's git credential). */
  clientKeyFile: string;
  /** `known_hosts` line for `sshHost`. */
  knownHostLine: (sshHost: string) => string;
}

/** Keys and certificates for an upstream answering as `*.<domain>`. */
export async function createUpstreamMaterial(domain: string): Promise<UpstreamMaterial> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bottle-upstream-"));
  const fixture = path.join(dir, "fixture");
  mkdirSync(fixture);
  const caPair = await createBottleCa({ commonName: `test upstream CA ${domain}` });
  const leaf = await mintLeafCertificate(await loadBottleCa(caPair), `*.${domain}`);
  writeFileSync(path.join(dir, "upstream-ca.pem"), caPair.certPem);
  writeFileSync(path.join(fixture, "tls.crt"), leaf.certPem);
  writeFileSync(path.join(fixture, "tls.key"), leaf.keyPem);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "upstream-host", "-f", path.join(fixture, "ssh_host_ed25519_key")]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "bottle-gate", "-f", path.join(dir, "gate_key")]);
  writeFileSync(path.join(fixture, "authorized_keys"), readFileSync(path.join(dir, "gate_key.pub")));
  const hostPub = readFileSync(path.join(fixture, "ssh_host_ed25519_key.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
  return {
    dir,
    caFile: path.join(dir, "upstream-ca.pem"),
    clientKeyFile: path.join(dir, "gate_key"),
    knownHostLine: (sshHost) => `${sshHost} ${hostPub}`,
  };
}

export interface RunningUpstream {
  container: string;
  /** Connects the upstream to a network under the given aliases (the bottle's "internet"). */
  attach(network: string, aliases: string[]): void;
  ipOn(network: string): string;
  requests(): Array<{ host: string; method: string; url: string; headers: Record<string, string>; body: string }>;
  udpMessages(): Array<{ from: string; text: string }>;
  /** `git` inside the upstream, on a bare repo. */
  git(repo: string, args: string[]): string;
  remove(): void;
}

export function startUpstream(name: string, network: string, material: UpstreamMaterial): RunningUpstream {
  dockerOk(["rm", "-f", name]);
  docker(["run", "-d", "--name", name, "--label", "dev.bottle.test=1", "--network", network, "-v", `${path.join(material.dir, "fixture")}:/fixture:ro`, UPSTREAM_IMAGE]);
  waitFor(() => docker(["logs", name]).includes("upstream ready"), `upstream ${name} ready`);
  const readJsonl = (file: string) =>
    docker(["exec", name, "sh", "-c", `cat /var/log/upstream/${file} 2>/dev/null || true`])
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  return {
    container: name,
    attach: (net, aliases) => docker(["network", "connect", ...aliases.flatMap((a) => ["--alias", a]), net, name]) && undefined,
    ipOn: (net) => docker(["inspect", "-f", `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, name]),
    requests: () => readJsonl("requests.jsonl"),
    udpMessages: () => readJsonl("udp.jsonl"),
    git: (repo, args) => docker(["exec", "-u", "git", name, "git", "-C", `/srv/git/${repo}.git`, ...args]),
    remove: () => void dockerOk(["rm", "-f", name]),
  };
}

export function waitFor(check: () => boolean, what: string, attempts = 100): void {
  for (let i = 0; i < attempts; i++) {
    try {
      if (check()) return;
    } catch {
      // not yet
    }
    execFileSync("sleep", ["0.2"]);
  }
  throw new Error(`timed out waiting for ${what}`);
}
