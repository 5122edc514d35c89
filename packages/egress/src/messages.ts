import type { BodyRefusal } from "./normalize.js";
import type { DenyReason } from "./routes.js";

/** What refusals say to the agent. Targets given here are already shown (no secret value in them). */
export function denyText(target: { host: string; port: number; pathname: string }, method: string, reason: DenyReason): string {
  const why =
    reason === "host"
      ? `No route of this bottle allows ${target.host}:${target.port}.`
      : reason === "scheme"
        ? `Plain HTTP to ${target.host}:${target.port} is refused: its route takes TLS only (credentials never travel in cleartext). Use https://.`
      : reason === "method"
        ? `The routes for ${target.host} do not allow the method ${method}.`
        : `The routes for ${target.host} do not allow the path ${target.pathname} (paths with dot segments, backslashes, ";", "#" or encoded "/", "\\", "." or "%" are refused on path-limited routes).`;
  return (
    `bottle egress: ${method} ${target.host}:${target.port}${target.pathname} was denied. ${why}\n` +
    `To ask the human for access, call the supervise MCP tool request_egress_route with ` +
    `{"host": "${target.host}", "methods": ["${method}"], "reason": "<why this task needs it>"}. ` +
    `Once approved, the route applies without a restart; then retry.\n`
  );
}

export function overrideText(target: { host: string; port: number }, method: string, where: string): string {
  return (
    `bottle egress: ${method} to ${target.host}:${target.port} refused: it asks for another method (${where}), ` +
    `and this route allows only some methods. Send the method you mean on the request line.\n`
  );
}

export function uninspectableText(target: { host: string; port: number }, why: BodyRefusal): string {
  const what =
    why === "too-large-to-inspect"
      ? "its decoded body is larger than egress inspects"
      : why === "unknown-content-encoding"
        ? "its Content-Encoding is not one egress can decode (gzip, deflate, br)"
        : "its body does not decode as its Content-Encoding says";
  return `bottle egress: request to ${target.host}:${target.port} blocked: ${what}, so it cannot be checked for secrets.\n`;
}

export function leakText(target: { host: string; port: number }): string {
  return (
    `bottle egress: request to ${target.host}:${target.port} blocked: it carries the value of a known secret ` +
    `(raw or encoded). Secrets are injected by egress on their own routes only; do not send them yourself.\n`
  );
}

export function patternText(target: { host: string; port: number }, ruleId: string): string {
  return (
    `bottle egress: request to ${target.host}:${target.port} blocked: its URL or body looks like it contains a credential ` +
    `(${ruleId}). Remove it. If this is a false positive, ask the human through the supervise MCP tool ` +
    `request_egress_route with {"host": "${target.host}", "methods": [...], "reason": "..."} explaining why.\n`
  );
}
