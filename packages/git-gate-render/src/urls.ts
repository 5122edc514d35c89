export interface RepoLocation {
  user?: string;
  host: string;
  port?: string;
  path: string;
}

/** Host, port and path of an upstream URL: `scheme://[user@]host[:port]/path` or scp-like `[user@]host:path`. */
export function parseRepoUrl(url: string): RepoLocation | undefined {
  if (!url.includes("://")) {
    const scp = /^(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+):(?!\/)(.+)$/.exec(url);
    if (!scp) return undefined;
    const loc: RepoLocation = { host: scp[2]!.replace(/^\[|\]$/g, ""), path: scp[3]! };
    if (scp[1] !== undefined) loc.user = scp[1];
    return loc;
  }
  const full = /^[a-z][a-z0-9+.-]*:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/(.*)$/i.exec(url);
  if (!full) return undefined;
  const loc: RepoLocation = { host: full[2]!.replace(/^\[|\]$/g, ""), path: full[4]! };
  if (full[1] !== undefined) loc.user = full[1];
  if (full[3] !== undefined) loc.port = full[3];
  return loc;
}

/**
 * Every form the agent (or a tool it runs) may write for the same repository: as written,
 * ssh://, scp-like and https, each with and without `.git`. A non-default ssh port cannot
 * be written scp-like or carried over to https, so those forms are left out then.
 */
export function repoUrlForms(url: string): string[] {
  const forms = new Set<string>([url]);
  const loc = parseRepoUrl(url);
  if (!loc) return [...forms];
  const bare = loc.path.replace(/\.git\/?$/, "").replace(/^\/+/, "").replace(/\/+$/, "");
  const isSsh = !/^(https?|git):\/\//i.test(url);
  const sshPort = isSsh ? loc.port : undefined;
  const httpsPort = /^https:\/\//i.test(url) ? loc.port : undefined;
  const user = isSsh ? (loc.user ?? "git") : "git";
  const host = loc.host.includes(":") ? `[${loc.host}]` : loc.host;
  for (const suffix of [".git", ""]) {
    if (!sshPort) forms.add(`${user}@${host}:${bare}${suffix}`);
    forms.add(`ssh://${user}@${host}${sshPort ? `:${sshPort}` : ""}/${bare}${suffix}`);
    if (!sshPort) forms.add(`https://${host}${httpsPort ? `:${httpsPort}` : ""}/${bare}${suffix}`);
  }
  return [...forms];
}

/** The `known_hosts` host field for an ssh upstream: `host`, or `[host]:port` off port 22. */
export function knownHostsHost(url: string): string | undefined {
  const loc = parseRepoUrl(url);
  if (!loc) return undefined;
  return loc.port && loc.port !== "22" ? `[${loc.host}]:${loc.port}` : loc.host;
}
