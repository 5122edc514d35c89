import type { BottlePlan, GitUpstreamPlan } from "@bottle/plan";
import { BottleError } from "@bottle/errors";
import { casePattern, fullRef, shq } from "./shell.js";
import { knownHostsHost } from "./urls.js";

export interface RenderedFile {
  /** Absolute path inside the bundle (under `configDir`). */
  path: string;
  content: string;
  mode: number;
}

export interface GitGateRender {
  files: RenderedFile[];
  /** Path of the entrypoint script (run it with `sh`). */
  entrypoint: string;
  /** One host → IP map for the gate's /etc/hosts (see mergeExtraHosts). */
  extraHosts: Record<string, string>;
}

/** Where the gate finds things. Defaults are the bundle contract's paths. */
export interface GitGateOptions {
  /** Rendered scripts and `<name>.known_hosts` (read-only in the bundle). Default `/etc/bottle/git-gate`. */
  configDir?: string;
  /** Per-upstream credentials: `<secretsDir>/<name>/ssh_key` or `/token`. Default `/run/bottle/secrets/git`. */
  secretsDir?: string;
  /** Known secret values for the push scanner (`{id: value}`). Default `/run/bottle/secrets/secrets.json`. */
  secretsJson?: string;
  /** Bare mirrors, `<mirrorsDir>/<name>.git`. Default `/var/lib/bottle/git`. */
  mirrorsDir?: string;
  /** Extra CA bundle for upstream TLS, used when present. Default `/etc/bottle/ca/upstream-ca.pem`. */
  upstreamCaFile?: string;
  /** git daemon port. Default 9418. */
  port?: number;
  /** git daemon listen address. Default `0.0.0.0`. */
  listen?: string;
  /** JSON-lines decision log of pushes and fetches (docs/audit.md). Default `/var/lib/bottle/audit/git-gate.jsonl`. */
  auditFile?: string;
  /** Scanner command words; `git --repo <dir> [--secrets f] -- <revs>` is appended. Default `["bottle-scan"]`. */
  scanner?: string[];
}

type ResolvedOptions = Required<GitGateOptions>;

export type GitGateInput = BottlePlan | BottlePlan["git"] | GitUpstreamPlan[];

const HEADER = "# Rendered by @bottle/git-gate-render. Do not edit: re-rendered on every start.";

function upstreamsOf(input: GitGateInput): GitUpstreamPlan[] {
  if (Array.isArray(input)) return input;
  if ("upstreams" in input) return input.upstreams;
  return input.git.upstreams;
}

function resolveOptions(input: GitGateInput, options: GitGateOptions): ResolvedOptions {
  const plan = !Array.isArray(input) && "bundle" in input ? input : undefined;
  const paths = plan?.bundle.paths ?? { config: "/etc/bottle", secrets: "/run/bottle/secrets", state: "/var/lib/bottle", ca: "/etc/bottle/ca" };
  return {
    configDir: options.configDir ?? `${paths.config}/git-gate`,
    secretsDir: options.secretsDir ?? `${paths.secrets}/git`,
    secretsJson: options.secretsJson ?? `${paths.secrets}/secrets.json`,
    mirrorsDir: options.mirrorsDir ?? `${paths.state}/git`,
    upstreamCaFile: options.upstreamCaFile ?? `${paths.ca}/upstream-ca.pem`,
    port: options.port ?? plan?.bundle.ports.gitGate ?? 9418,
    listen: options.listen ?? "0.0.0.0",
    scanner: options.scanner ?? ["bottle-scan"],
    auditFile: options.auditFile ?? `${paths.state}/audit/git-gate.jsonl`,
  };
}

function checkName(upstream: GitUpstreamPlan): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(upstream.name) || upstream.name.endsWith(".git")) {
    throw new BottleError(`git upstream name "${upstream.name}" cannot be used as a repository name in the gate`, {
      code: "GIT_GATE_BAD_NAME",
      hint: "use lower-case letters, digits, . _ - (not ending in .git)",
    });
  }
}

/** An ssh upstream is only contacted with a pinned host key: there is no trust on first use. */
function sshWithoutPin(upstream: GitUpstreamPlan): boolean {
  return upstream.transport === "ssh" && !upstream.knownHostKey?.trim();
}

const KEY_TYPE = /^(ssh-|ecdsa-|sk-)/;

/**
 * The `known_hosts` file of an ssh upstream from the manifest's pinned key(s). Lines that
 * are just `<type> <key>` get the upstream's host (`[host]:port` off port 22) put in front.
 */
export function renderKnownHosts(upstream: GitUpstreamPlan): string | undefined {
  if (upstream.transport !== "ssh" || !upstream.knownHostKey?.trim()) return undefined;
  const host = knownHostsHost(upstream.url);
  const lines = upstream.knownHostKey
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => (KEY_TYPE.test(line) && host ? `${host} ${line}` : line));
  return `${lines.join("\n")}\n`;
}

/** Escapes text for use inside a double-quoted sh string. */
function dq(value: string): string {
  return value.replace(/[\\"$`]/g, "\\$&");
}

/**
 * The ssh command git uses for an ssh upstream, as the inside of a double-quoted sh string
 * (the key copy's path, `$key`, is only known at run time). No pinned key: an empty
 * known_hosts, so ssh fails closed even if a hook check were bypassed.
 */
function sshCommand(upstream: GitUpstreamPlan, o: ResolvedOptions, withKey: boolean): string {
  const knownHosts = sshWithoutPin(upstream) ? "/dev/null" : `${o.configDir}/${upstream.name}.known_hosts`;
  return [
    "ssh -F /dev/null",
    withKey ? "-i '$key'" : "",
    "-o IdentitiesOnly=yes -o StrictHostKeyChecking=yes",
    `-o UserKnownHostsFile=${dq(shq(knownHosts))} -o GlobalKnownHostsFile=/dev/null`,
    "-o BatchMode=yes -o ConnectTimeout=15",
  ]
    .filter(Boolean)
    .join(" ");
}

function renderEntrypoint(upstreams: GitUpstreamPlan[], o: ResolvedOptions): string {
  const blocks = upstreams.map((up) => {
    const repo = `$MIRRORS/${up.name}.git`;
    const lines = [`# ${up.name}: ${up.transport} upstream`, `setup_mirror ${shq(up.name)} ${shq(up.url)}`];
    if (up.transport === "ssh") {
      if (up.credential) lines.push(`key=$(private_key_copy ${shq(`${o.secretsDir}/${up.name}/ssh_key`)} ${shq(up.name)})`);
      if (sshWithoutPin(up)) {
        lines.push(`echo "git-gate: ${up.name}: ssh upstream without a pinned host key (knownHostKey); fetch and push will be refused" >&2`);
      }
      lines.push(`git --git-dir="${repo}" config core.sshCommand "${sshCommand(up, o, up.credential !== undefined)}"`);
    } else if (up.credential) {
      const helper = `!${shq(`${o.configDir}/credential-helper.sh`)} ${shq(`${o.secretsDir}/${up.name}/token`)} ${shq(up.username)}`;
      lines.push(`git --git-dir="${repo}" config --add credential.helper ''`);
      lines.push(`git --git-dir="${repo}" config --add credential.helper ${shq(helper)}`);
    }
    return lines.join("\n");
  });

  const warmable = upstreams.filter((up) => !sshWithoutPin(up)).map((up) => shq(up.name));
  // Forked twice: a plain background job would stay a child of the process that becomes
  // `git daemon`, which never waits for it, and end as a zombie. The inner job is handed
  // to the bundle's init (tini), which reaps it; it stays in the daemon's process group.
  const warmList = warmable.length === 0 ? "" : `( ( for name in ${warmable.join(" ")}; do warm_mirror "$name"; done ) & )`;
  return `#!/bin/sh
${HEADER}
# git gate: one bare mirror per upstream, hooks from the read-only config dir, then git daemon.
set -eu
umask 077
CONFIG=${shq(o.configDir)}
MIRRORS=${shq(o.mirrorsDir)}
UPSTREAM_CA=${shq(o.upstreamCaFile)}
export GIT_TERMINAL_PROMPT=0
mkdir -p "$MIRRORS" "$(dirname ${shq(o.auditFile)})"
RUNTIME=$(mktemp -d "\${TMPDIR:-/tmp}/bottle-git-gate.XXXXXX")
# git daemon drops its access hook's stderr: hooks write details to fd 7, a copy of the
# gate's stderr that git daemon and its children inherit, so they reach the gate log.
exec 7>&2

# Bare repo whose origin is the upstream; fetch mirrors every ref (refs/* -> refs/*).
setup_mirror() {
  repo="$MIRRORS/$1.git"
  [ -d "$repo" ] || git init --quiet --bare "$repo"
  if git --git-dir="$repo" remote get-url origin >/dev/null 2>&1; then
    git --git-dir="$repo" remote set-url origin "$2"
  else
    git --git-dir="$repo" remote add --mirror=fetch origin "$2"
  fi
  git --git-dir="$repo" config core.hooksPath "$CONFIG/hooks/$1"
  git --git-dir="$repo" config bottle.upstream "$1"
  git --git-dir="$repo" config --unset-all credential.helper >/dev/null 2>&1 || true
  git --git-dir="$repo" config --unset-all core.sshCommand >/dev/null 2>&1 || true
  if [ -n "$ca_bundle" ]; then git --git-dir="$repo" config http.sslCAInfo "$ca_bundle"; fi
}

# ssh refuses keys that others can read, and the secrets mount may be read-only (no
# chmod): use a private copy.
private_key_copy() {
  if [ ! -r "$1" ]; then
    echo "git-gate: $2: ssh key $1 is missing or unreadable" >&2
    echo "$1"
    return 0
  fi
  chmod 600 "$1" 2>/dev/null || true
  cp "$1" "$RUNTIME/$2.ssh_key"
  chmod 600 "$RUNTIME/$2.ssh_key" 2>/dev/null || true
  echo "$RUNTIME/$2.ssh_key"
}

ca_bundle=""
if [ -r "$UPSTREAM_CA" ]; then
  ca_bundle="$RUNTIME/upstream-ca.pem"
  { cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null || true; cat "$UPSTREAM_CA"; } > "$ca_bundle"
fi

${blocks.join("\n\n")}

# Warm the mirrors in the background so the agent's first clone does not wait for the
# whole history. The access hook still fetches (under the same lock) before serving.
warm_mirror() {
  repo="$MIRRORS/$1.git"
  if command -v flock >/dev/null 2>&1; then
    ( flock 9; git --git-dir="$repo" fetch --quiet --prune --no-write-fetch-head origin ) 9>>"$repo/bottle-fetch.lock"
  else
    git --git-dir="$repo" fetch --quiet --prune --no-write-fetch-head origin
  fi || echo "git-gate: $1: first fetch failed; it is retried on every fetch by the agent" >&2
}
${warmList}

exec git daemon --reuseaddr --verbose --informative-errors --export-all \\
  --enable=receive-pack \\
  --access-hook="$CONFIG/access-hook.sh" \\
  --base-path="$MIRRORS" \\
  --port=${o.port} \\
  --listen=${shq(o.listen)} \\
  "$MIRRORS"
`;
}

/**
 * Shell functions both hooks source: \`gate_audit <op> <decision> <reason>\` appends one
 * JSON line (docs/audit.md) to the gate's decision log. Values are escaped for JSON; the
 * log holds ref names, commit ids, rule ids and file positions, never file contents.
 */
function renderAuditFunctions(o: ResolvedOptions): string {
  return `#!/bin/sh
${HEADER}
# Sourced by the gate hooks. Appends are single small writes (O_APPEND), so lines from
# concurrent hooks do not interleave.
GATE_AUDIT=${shq(o.auditFile)}
json_str() { printf '%s' "$1" | tr '\\n\\r\\t' '   ' | tr -d '\\000-\\037' | sed -e 's/\\\\/\\\\\\\\/g' -e 's/"/\\\\"/g'; }
gate_audit_id() { od -An -N4 -tx1 /dev/urandom 2>/dev/null | tr -d ' \\n'; }
# $1 op (push | fetch), $2 decision, $3 reason; uses $name, $audit_id, $refs_json, $findings_json
gate_audit() {
  {
    printf '{"v":1,"time":"%s","id":"%s-%s","op":"%s","repo":"%s","decision":"%s"' \\
      "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$1" "\${audit_id:-$(gate_audit_id)}" "$1" "$(json_str "\${name:-}")" "$2"
    [ -z "$3" ] || printf ',"reason":"%s"' "$(json_str "$3")"
    [ -z "\${refs_json:-}" ] || printf ',"refs":[%s]' "$refs_json"
    [ -z "\${findings_json:-}" ] || printf ',"findings":[%s]' "$findings_json"
    printf '}\\n'
  } >>"$GATE_AUDIT" 2>/dev/null || true
}
`;
}

function renderAccessHook(upstreams: GitUpstreamPlan[], o: ResolvedOptions): string {
  const cases = upstreams.map((up) =>
    sshWithoutPin(up)
      ? `  ${shq(up.name)}) refuse "upstream ${up.name} is an ssh upstream without a pinned host key (knownHostKey in bottle.json); the gate does not contact it" ;;`
      : `  ${shq(up.name)}) ;;`,
  );
  return `#!/bin/sh
${HEADER}
# git daemon --access-hook: $1 = service, $2 = repository path (then host, ip, port).
# Before every upload-pack (clone, fetch, pull, ls-remote) the mirror is refreshed from the
# upstream; if that fails the request fails, so the agent never sees a stale mirror.
# The first line on stdout is what the client is told; details go to the gate log.
set -u
service=$1
repo=$2
name=$(basename "$repo" .git)
log() { { printf '%s\\n' "$@" >&7; } 2>/dev/null || true; }
. ${shq(`${o.configDir}/audit.sh`)}
# a refused push is logged by the access hook (pre-receive never runs); a refused or served fetch here
op=fetch
[ "$service" = upload-pack ] || op=push
refuse() { echo "bottle git-gate: $1"; log "git-gate: $name: $1"; verdict=deny; [ "$op" = fetch ] || verdict=reject; gate_audit "$op" "$verdict" "$1"; exit 1; }

case "$name" in
${cases.join("\n")}
  *) refuse "no upstream named $name" ;;
esac
[ "$service" = upload-pack ] || exit 0

export GIT_TERMINAL_PROMPT=0
export GIT_NO_REPLACE_OBJECTS=1
fetch() { git --git-dir="$repo" fetch --quiet --prune --no-write-fetch-head origin; }
if command -v flock >/dev/null 2>&1; then
  output=$( (flock 9; fetch) 9>>"$repo/bottle-fetch.lock" 2>&1 )
else
  output=$(fetch 2>&1)
fi
status=$?
if [ "$status" -ne 0 ]; then
  log "$output"
  refuse "cannot fetch from upstream $name (see the gate log); refusing to serve a stale mirror"
fi

# HEAD follows the upstream's default branch: asked once, and again whenever it dangles.
if [ "$(git --git-dir="$repo" config --get bottle.headSynced || true)" != true ] ||
  ! git --git-dir="$repo" rev-parse --quiet --verify HEAD >/dev/null; then
  head=$(git --git-dir="$repo" ls-remote --symref origin HEAD 2>/dev/null | awk '$1 == "ref:" && $3 == "HEAD" { print $2; exit }')
  if [ -z "$head" ]; then
    for candidate in refs/heads/main refs/heads/master; do
      if git --git-dir="$repo" rev-parse --quiet --verify "$candidate" >/dev/null; then head=$candidate; break; fi
    done
  fi
  if [ -n "$head" ]; then
    git --git-dir="$repo" symbolic-ref HEAD "$head"
    git --git-dir="$repo" config bottle.headSynced true
  fi
fi
gate_audit fetch allow ""
exit 0
`;
}

function renderPreReceive(up: GitUpstreamPlan, o: ResolvedOptions): string {
  const scanner = o.scanner.map(shq).join(" ");
  const pinCheck = sshWithoutPin(up)
    ? `\ndeny "upstream ${up.name} is an ssh upstream without a pinned host key (knownHostKey in bottle.json); nothing is forwarded"\n`
    : "";
  const protectedPatterns = up.protectedBranches.map((b) => casePattern(fullRef(b)));
  const protectedCase =
    protectedPatterns.length === 0
      ? ""
      : `
  case "$ref" in
    ${protectedPatterns.join("|")})
      [ "$new" != "$zero" ] || deny "$ref is a protected branch: it cannot be deleted"
      if [ "$old" != "$zero" ] && ! git merge-base --is-ancestor "$old" "$new"; then
        deny "$ref is a protected branch: force push (not a fast-forward) is not allowed"
      fi ;;
  esac`;
  const allowedCase =
    up.allowedRefs.length === 0
      ? ""
      : `
  case "$ref" in
    ${up.allowedRefs.map((r) => casePattern(fullRef(r))).join("|")}) ;;
    *) deny "$ref is outside the refs this bottle may push (${up.allowedRefs.map(fullRef).join(", ")})" ;;
  esac`;

  // Replace refs make git show other objects than the ones a ref names: refused unless the
  // manifest allows them by name.
  const replaceAllowed = up.allowedRefs.some((r) => fullRef(r).startsWith("refs/replace/"));
  const replaceCase = replaceAllowed
    ? ""
    : `
  case "$ref" in
    refs/replace/*) deny "$ref is a replace ref: it would make git show other objects than the ones pushed (allow refs/replace/ in allowedRefs to push it)" ;;
  esac`;
  return `#!/bin/sh
${HEADER}
# pre-receive for upstream ${up.name}: ref policy, secret scan of what the push adds, then
# forward to the upstream with the gate's credential. Any failure rejects the whole push
# and nothing reaches the upstream. Refs are not updated yet: objects are read from the
# quarantine, which git makes visible to the commands run here.
set -u
set -f
SCANNER=${shq(o.scanner.join(" "))}
SECRETS_JSON=${shq(o.secretsJson)}
export GIT_TERMINAL_PROMPT=0
# Every object is read as it is, never through refs/replace/*.
export GIT_NO_REPLACE_OBJECTS=1
. ${shq(`${o.configDir}/audit.sh`)}
name=${shq(up.name)}
audit_id=$(gate_audit_id)
refs_json=""
findings_json=""
deny() {
  echo "bottle git-gate: push rejected: $1" >&2
  { echo "git-gate: $(basename "$(pwd)" .git): push rejected: $1" >&7; } 2>/dev/null || true
  gate_audit push reject "$1"
  exit 1
}
${pinCheck}
zero=$(git hash-object --stdin </dev/null | tr 0-9a-f 0)
tips=""
refnames=""
refspecs=""
leases=""
count=0
while read -r old new ref; do
  count=$((count + 1))
  refs_json="$refs_json\${refs_json:+,}{\\"ref\\":\\"$(json_str "$ref")\\",\\"old\\":\\"$old\\",\\"new\\":\\"$new\\"}"
  refnames="$refnames --ref $ref"${replaceCase}${allowedCase}${protectedCase}
  if [ "$new" = "$zero" ]; then
    refspecs="$refspecs :$ref"
  else
    refspecs="$refspecs +$new:$ref"
    tips="$tips $new"
  fi
  if [ "$old" = "$zero" ]; then leases="$leases --force-with-lease=$ref:"; else leases="$leases --force-with-lease=$ref:$old"; fi
done
[ "$count" -gt 0 ] || exit 0

# Scan only what the upstream does not have yet: every object not reachable from the
# mirror's refs (the mirror holds exactly the upstream's refs) — commits, tags, trees and
# blobs, whatever ref or tag points at them — and the ref names.
if [ -n "$tips" ]; then
  if [ -r "$SECRETS_JSON" ]; then
    report=$(${scanner} git --repo "\${GIT_DIR:-.}" --secrets "$SECRETS_JSON" $refnames -- $tips --not --all 2>&1)
  else
    report=$(${scanner} git --repo "\${GIT_DIR:-.}" $refnames -- $tips --not --all 2>&1)
  fi
  status=$?
  # Exit 1 with the findings header = findings; anything else (e.g. node failing to
  # start, which also exits 1) = the scanner failed. Both reject the push.
  if [ "$status" -eq 1 ] && printf '%s\\n' "$report" | grep -q "secret finding(s):"; then
    printf '%s\\n' "$report" >&2
    # positions and rule ids only (never the matched text)
    findings_json=$(printf '%s\\n' "$report" | awk 'NR > 1 && $1 ~ /:[0-9]+:[0-9]+$/ && n < 50 { n++; gsub(/["\\\\]/, "", $1); gsub(/["\\\\]/, "", $2); printf "%s{\\"at\\":\\"%s\\",\\"rule\\":\\"%s\\"}", (n > 1 ? "," : ""), $1, $2 }')
    deny "secrets found in the pushed commits (listed above: file:line:column, rule). Remove them from the history (e.g. git rebase -i, git commit --amend) and push again."
  elif [ "$status" -ne 0 ]; then
    printf '%s\\n' "$report" >&2
    deny "the secret scanner ($SCANNER) failed; nothing was forwarded"
  fi
fi

url=$(git config --get remote.origin.url)
atomic=""
[ "$count" -gt 1 ] && atomic="--atomic"
if ! output=$(git push --quiet --no-verify --porcelain $atomic $leases "$url" $refspecs 2>&1); then
  printf '%s\\n' "$output" | sed 's/^/  /' >&2
  deny "the upstream did not accept the push (see above; if it moved, fetch and retry). Nothing was changed."
fi
gate_audit push accept ""
exit 0
`;
}

const CREDENTIAL_HELPER = `#!/bin/sh
${HEADER}
# git credential helper for https upstreams: $1 = token file, $2 = user name, $3 = action.
# The token is read from the secrets mount when git asks; it is never in a URL, a config
# file or a log.
cat >/dev/null
[ "\${3:-}" = get ] || exit 0
if [ ! -r "$1" ]; then
  echo "git-gate: token file $1 is missing or unreadable" >&2
  exit 1
fi
token=$(cat "$1")
printf 'username=%s\\npassword=%s\\n' "$2" "$token"
`;

/**
 * Renders the git gate: entrypoint, access hook, one pre-receive hook per upstream,
 * credential helper and pinned `known_hosts` files. Pure: paths are parameters.
 */
export function renderGitGate(input: GitGateInput, options: GitGateOptions = {}): GitGateRender {
  const upstreams = upstreamsOf(input);
  const o = resolveOptions(input, options);
  const seen = new Set<string>();
  for (const up of upstreams) {
    checkName(up);
    if (seen.has(up.name)) {
      throw new BottleError(`two git upstreams are named "${up.name}"`, { code: "GIT_GATE_DUPLICATE_NAME", hint: "give each upstream its own name" });
    }
    seen.add(up.name);
  }
  const files: RenderedFile[] = [
    { path: `${o.configDir}/entrypoint.sh`, content: renderEntrypoint(upstreams, o), mode: 0o755 },
    { path: `${o.configDir}/access-hook.sh`, content: renderAccessHook(upstreams, o), mode: 0o755 },
    { path: `${o.configDir}/audit.sh`, content: renderAuditFunctions(o), mode: 0o644 },
    { path: `${o.configDir}/credential-helper.sh`, content: CREDENTIAL_HELPER, mode: 0o755 },
  ];
  for (const up of upstreams) {
    files.push({ path: `${o.configDir}/hooks/${up.name}/pre-receive`, content: renderPreReceive(up, o), mode: 0o755 });
    const knownHosts = renderKnownHosts(up);
    if (knownHosts) files.push({ path: `${o.configDir}/${up.name}.known_hosts`, content: knownHosts, mode: 0o644 });
  }
  return { files, entrypoint: `${o.configDir}/entrypoint.sh`, extraHosts: mergeExtraHosts(upstreams) };
}

/**
 * One /etc/hosts map for the gate from every upstream's `extraHosts`. The same host with
 * two different addresses cannot hold in one /etc/hosts: that is an error naming both
 * upstreams.
 */
export function mergeExtraHosts(upstreams: Pick<GitUpstreamPlan, "name" | "extraHosts">[]): Record<string, string> {
  const merged = new Map<string, { ip: string; upstream: string }>();
  for (const up of upstreams) {
    for (const [host, ip] of Object.entries(up.extraHosts)) {
      const key = host.toLowerCase();
      const seen = merged.get(key);
      if (seen && seen.ip !== ip) {
        throw new BottleError(`git upstreams "${seen.upstream}" and "${up.name}" map ${host} to different addresses (${seen.ip} and ${ip})`, {
          code: "GIT_GATE_EXTRA_HOSTS_CONFLICT",
          hint: "the gate has one /etc/hosts: make both upstreams use the same address for this host",
          details: { host, upstreams: [seen.upstream, up.name], addresses: [seen.ip, ip] },
        });
      }
      if (!seen) merged.set(key, { ip, upstream: up.name });
    }
  }
  return Object.fromEntries([...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([host, v]) => [host, v.ip]));
}
