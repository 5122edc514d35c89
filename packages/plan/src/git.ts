import { BottleError } from "@bottle/errors";
import type { GitUpstreamSpec } from "@bottle/manifest";
import type { GitUpstreamPlan } from "./types.js";

export function gitTransport(url: string): GitUpstreamPlan["transport"] {
  if (url.startsWith("https://")) return "https";
  if (url.startsWith("http://")) return "http";
  if (url.startsWith("git://")) return "git";
  return "ssh";
}

interface RepoLocation {
  user?: string;
  host: string;
  port?: string;
  path: string;
}

function parseRepoUrl(url: string): RepoLocation | undefined {
  const scp = /^(?:([^@/]+)@)?([^:/]+):(?!\/)(.+)$/.exec(url);
  if (scp && !url.includes("://")) return { user: scp[1], host: scp[2]!, path: scp[3]! };
  const full = /^[a-z+]+:\/\/(?:([^@/]+)@)?([^:/]+)(?::(\d+))?\/(.+)$/.exec(url);
  if (full) return { user: full[1], host: full[2]!, port: full[3], path: full[4]! };
  return undefined;
}

/**
 * Every URL form an agent (or a tool it runs) may use for the same repository, so that
 * `url.<gate>.insteadOf` catches all of them: as written, ssh://, scp-like and https,
 * each with and without `.git`.
 */
export function insteadOfForms(url: string): string[] {
  const forms = new Set<string>([url]);
  const loc = parseRepoUrl(url);
  if (loc) {
    const bare = loc.path.replace(/\.git$/, "").replace(/^\/+/, "");
    const user = loc.user ?? "git";
    for (const suffix of [".git", ""]) {
      if (!loc.port) forms.add(`${user}@${loc.host}:${bare}${suffix}`);
      forms.add(`ssh://${user}@${loc.host}${loc.port ? `:${loc.port}` : ""}/${bare}${suffix}`);
      if (!loc.port) forms.add(`https://${loc.host}/${bare}${suffix}`);
    }
  }
  return [...forms];
}

/**
 * One /etc/hosts map for the gate. The same host mapped to two IPs by different
 * upstreams cannot both hold in one /etc/hosts, so it is an error naming both.
 */
export function mergeExtraHosts(upstreams: Pick<GitUpstreamSpec, "name" | "extraHosts">[]): Record<string, string> {
  const merged = new Map<string, { ip: string; upstream: string }>();
  for (const upstream of upstreams) {
    for (const [host, ip] of Object.entries(upstream.extraHosts)) {
      const seen = merged.get(host);
      if (seen && seen.ip !== ip) {
        throw new BottleError(
          `git upstreams "${seen.upstream}" and "${upstream.name}" map ${host} to different addresses (${seen.ip} vs ${ip})`,
          { code: "PLAN_EXTRA_HOSTS_CONFLICT", hint: "The gate has one /etc/hosts: make both upstreams agree on the address." },
        );
      }
      merged.set(host, { ip, upstream: upstream.name });
    }
  }
  return Object.fromEntries([...merged].sort(([a], [b]) => a.localeCompare(b)).map(([host, v]) => [host, v.ip]));
}
