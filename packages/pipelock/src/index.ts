import { isIP } from "node:net";
import { BottleError } from "@bottle/errors";
import type { BottlePlan, EgressRoutePlan } from "@bottle/plan";
import { stringify } from "yaml";

export interface PipelockRenderInputs {
  /** CIDR of the bottle's internal network, known once the backend created it (e.g. `172.30.4.0/24`). */
  internalCidr: string;
  /** Known-secrets file inside the bundle (one value per line, 0600): see `renderPipelockSecretsFile`. */
  secretsFile: string;
  /** Bottle CA certificate (PEM) inside the bundle. */
  caCert: string;
  /** Bottle CA key (SEC1 `EC PRIVATE KEY` PEM, 0600) inside the bundle; pipelock parses nothing else. */
  caKey: string;
  /** Routes added after planning (approved over supervise), so strict mode lets them through. */
  extraRoutes?: EgressRoutePlan[];
}

/** Where the backend puts the secrets file and CA in the bundle (docs/bundle-contract.md). */
export const PIPELOCK_DEFAULT_PATHS = {
  secretsFile: "/run/bottle/secrets/pipelock-secrets.txt",
  caCert: "/etc/bottle/ca/ca.crt",
  caKey: "/etc/bottle/ca/ca.key",
} as const;

/** Shortest secret pipelock looks for (its `dlp.min_env_secret_length`, which also filters secrets_file lines). */
export const PIPELOCK_MIN_SECRET_LENGTH = 8;

/** pipelock skips secrets_file lines longer than this. */
const MAX_SECRET_LINE = 4096;

function uniqueSorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

function badCidr(cidr: string, why: string): BottleError {
  return new BottleError(`Internal network CIDR "${cidr}" cannot go into pipelock's ssrf.ip_allowlist: ${why}`, {
    code: "PIPELOCK_BAD_CIDR",
    hint: "Pass the subnet of the bottle's internal network as the engine reports it, e.g. 172.30.4.0/24.",
  });
}

/**
 * Canonical form of an IPv4/IPv6 CIDR (host bits cleared), as pipelock requires; rejects
 * catch-all prefixes (`/0`), which pipelock refuses because they disable SSRF protection.
 */
export function canonicalCidr(cidr: string): string {
  const [address = "", prefixText = "", ...rest] = cidr.trim().split("/");
  const family = isIP(address);
  const prefix = Number(prefixText);
  const bits = family === 4 ? 32 : 128;
  if (family === 0 || rest.length > 0 || !/^\d{1,3}$/.test(prefixText) || prefix > bits) {
    throw badCidr(cidr, "expected address/prefix, e.g. 172.30.4.0/24");
  }
  if (prefix === 0) throw badCidr(cidr, "a /0 prefix would disable SSRF protection");
  if (family === 4) {
    const value = address.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
    const masked = value & (((1n << BigInt(prefix)) - 1n) << BigInt(32 - prefix));
    const octets = [24n, 16n, 8n, 0n].map((shift) => String((masked >> shift) & 255n));
    return `${octets.join(".")}/${prefix}`;
  }
  const value = ipv6ToBigInt(address);
  const masked = value & (((1n << BigInt(prefix)) - 1n) << BigInt(128 - prefix));
  return `${bigIntToIpv6(masked)}/${prefix}`;
}

function ipv6ToBigInt(address: string): bigint {
  const [head = "", tail] = address.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":"));
  const headGroups = parse(head);
  const tailGroups = tail === undefined ? [] : parse(tail);
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill("0"), ...tailGroups];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function bigIntToIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt((7 - i) * 16)) & 0xffffn));
  // Compress the longest run of zero groups (RFC 5952).
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.length).join(":")}`;
}

/**
 * Renders `pipelock.yaml` for the DLP hop after egress (pipelock's config schema; it rejects
 * unknown keys). Deterministic: same plan and inputs, same bytes.
 *
 * - forward proxy (CONNECT + absolute-URI) on 127.0.0.1:<plan.bundle.ports.pipelock>: only
 *   egress, in the same bundle, may use it; the agent must not bypass egress.
 * - `mode` from `plan.pipelock.mode`; `api_allowlist` = hosts of the bottle's routes (strict
 *   mode lets nothing else through, and requires at least one).
 * - blocklist from the manifest (`plan.pipelock.blocklist`).
 * - DLP with the built-in patterns plus `secrets_file`: pipelock runs in the bundle and cannot
 *   see the agent's environment, so the known secret values come from that file.
 * - TLS interception with the bottle CA. Hosts of credential-injected and passthrough routes
 *   are spliced, not intercepted: egress puts the real credential in those requests, which
 *   pipelock's header DLP would block as a known-secret leak, and passthrough routes exist for
 *   clients that pin certificates.
 * - `ssrf.ip_allowlist` = the bottle's own internal network only.
 * - crash reporting (sentry) off: the bundle must not talk to anyone but the routes.
 */
export function renderPipelockConfig(plan: BottlePlan, inputs: PipelockRenderInputs): string {
  const routes = [...plan.routes, ...(inputs.extraRoutes ?? [])];
  const mode = plan.pipelock.mode;
  const allowlist = uniqueSorted(routes.map((r) => r.host));
  if (mode === "strict" && allowlist.length === 0) {
    throw new BottleError("pipelock strict mode lets only route hosts through, and this bottle has no routes", {
      code: "PIPELOCK_STRICT_WITHOUT_ROUTES",
      hint: 'Add egress routes to the bottle, or use pipelock mode "balanced".',
    });
  }
  const passthrough = uniqueSorted(routes.filter((r) => r.passthrough || r.inject.length > 0).map((r) => r.host));
  const enforcing = mode !== "audit";

  const config = {
    version: 1,
    mode,
    enforce: true,
    explain_blocks: false,
    api_allowlist: allowlist,
    fetch_proxy: {
      listen: `127.0.0.1:${plan.bundle.ports.pipelock}`,
      timeout_seconds: 30,
      max_response_mb: 10,
      monitoring: {
        max_url_length: 4096,
        entropy_threshold: mode === "strict" ? 4.5 : 5.0,
        // Per domain: package installs fetch hundreds of files from one registry.
        max_requests_per_minute: 600,
        blocklist: [...new Set(plan.pipelock.blocklist)],
      },
    },
    forward_proxy: {
      enabled: true,
      // Long streaming responses (LLM APIs, clones) outlive pipelock's 300 s default.
      max_tunnel_seconds: 3600,
      idle_timeout_seconds: 300,
      sni_verification: true,
    },
    tls_interception: {
      enabled: true,
      ca_cert: inputs.caCert,
      ca_key: inputs.caKey,
      passthrough_domains: passthrough,
      cert_ttl: "24h",
      cert_cache_size: 10000,
      max_response_bytes: 64 * 1024 * 1024,
    },
    request_body_scanning: {
      enabled: true,
      action: enforcing ? "block" : "warn",
      max_body_bytes: 16 * 1024 * 1024,
      scan_headers: true,
      header_mode: "sensitive",
      sensitive_headers: ["Authorization", "Cookie", "X-Api-Key", "X-Token", "Proxy-Authorization", "X-Goog-Api-Key"],
    },
    response_scanning: {
      enabled: true,
      action: mode === "strict" ? "block" : "warn",
    },
    dlp: {
      scan_env: false,
      secrets_file: inputs.secretsFile,
      min_env_secret_length: PIPELOCK_MIN_SECRET_LENGTH,
      include_defaults: true,
    },
    ssrf: {
      ip_allowlist: [canonicalCidr(inputs.internalCidr)],
    },
    logging: {
      format: "json",
      output: "stdout",
      include_allowed: true,
      include_blocked: true,
    },
    sentry: {
      enabled: false,
    },
  };
  const header = "# pipelock.yaml rendered by bottle from the plan; edits are overwritten.";
  return `${header}\n${stringify(config, { lineWidth: 0 })}`;
}

/**
 * Contents of pipelock's `dlp.secrets_file`: one known secret value per line. Multi-line values
 * (PEM keys) contribute each line; lines pipelock cannot hold are left out: shorter than
 * `PIPELOCK_MIN_SECRET_LENGTH` or longer than 4096, starting with `#` (a comment to pipelock) or PEM armour
 * (`-----BEGIN …`). egress still blocks those exactly. Sorted and de-duplicated, so the file
 * is deterministic. The backend writes it 0600 (pipelock refuses group/world access).
 */
export function renderPipelockSecretsFile(values: Iterable<string>): string {
  const lines = new Set<string>();
  for (const value of values) {
    for (const raw of value.split(/\r?\n/)) {
      const line = raw.trim();
      if (line.length < PIPELOCK_MIN_SECRET_LENGTH || line.length > MAX_SECRET_LINE) continue;
      if (line.startsWith("#") || line.startsWith("-----") || line.includes("\0")) continue;
      lines.add(line);
    }
  }
  const sorted = [...lines].sort();
  return sorted.length === 0 ? "" : `${sorted.join("\n")}\n`;
}
