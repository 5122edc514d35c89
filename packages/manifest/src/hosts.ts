import { isIPv4, isIPv6 } from "node:net";

/**
 * The one rule for an egress route's host, shared by the manifest schema and the egress
 * routes-file parser, so `bottle validate` accepts exactly what the proxy will load:
 *
 * - a DNS name: labels of letters, digits, `-` and `_` (1–63 characters, no leading or
 *   trailing `-`), 253 characters at most, whose last label is not all digits;
 * - `*.` + such a name (matches one or more labels below it);
 * - an IPv4 address in dotted-quad form, or an IPv6 address without brackets (no wildcard).
 *
 * Case-insensitive; the manifest lower-cases hosts before checking.
 */
export function isHostPattern(host: string): boolean {
  if (host.startsWith("*.")) return isDnsName(host.slice(2));
  if (isIPv4(host) || isIPv6(host)) return true;
  return isDnsName(host);
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  if (!labels.every((label) => LABEL.test(label))) return false;
  // `123`, `1.2.3`, `*.4`: digits-only names are malformed addresses, not host names.
  return !/^[0-9]+$/.test(labels.at(-1)!);
}

export const HOST_PATTERN_DESCRIPTION = "a host name like api.example.com, a wildcard like *.example.com, or an IP address";

/** A name for the gate's /etc/hosts: a DNS name (no wildcard, not an address, no spaces). */
export function isExtraHostName(host: string): boolean {
  return isDnsName(host);
}
