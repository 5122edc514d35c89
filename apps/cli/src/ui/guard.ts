// The dashboard's front door. Whoever can click Approve can open the sandbox, so every
// request must prove it comes from the page this process served, in the browser of the
// person who started it: loopback only, exact Host (DNS rebinding), a per-run token
// traded for an HttpOnly SameSite=Strict cookie, and for anything that changes state an
// exact Origin, same-origin fetch metadata and a CSRF token only the page can read.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export interface GuardSecrets {
  /** In the URL printed at start; traded once per browser for the cookie. */
  token: string;
  /** Cookie value. */
  session: string;
  /** Embedded in the page; sent back in `x-bottle-csrf` on every state change. */
  csrf: string;
}

export function newSecrets(): GuardSecrets {
  const secret = () => randomBytes(32).toString("base64url");
  return { token: secret(), session: secret(), csrf: secret() };
}

export function sameSecret(given: string | undefined, expected: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export type Refusal = { status: number; message: string };

/** Cookie name carries the port: dashboards on other ports never overwrite each other's. */
export const cookieName = (port: number) => `bottle_ui_${port}`;

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Why a request must be refused, or undefined when it may pass. `origin` is the one
 * origin the dashboard serves (`http://127.0.0.1:<port>`).
 */
export function refusal(req: IncomingMessage, secrets: GuardSecrets, origin: string, port: number, tokenInUrl: boolean): Refusal | undefined {
  // DNS rebinding: a name that resolves to 127.0.0.1 still carries its own Host
  if (req.headers.host !== new URL(origin).host) return { status: 421, message: `wrong Host header; open ${origin}/ directly` };
  const site = req.headers["sec-fetch-site"];
  const method = req.method ?? "GET";
  if (STATE_CHANGING.has(method)) {
    if (req.headers.origin !== origin) return { status: 403, message: "cross-origin request refused" };
    if (site !== undefined && site !== "same-origin") return { status: 403, message: "cross-origin request refused" };
    if (!sameSecret(header(req, "x-bottle-csrf"), secrets.csrf)) return { status: 403, message: "missing or wrong CSRF token" };
  } else if (site !== undefined && site !== "same-origin" && site !== "none") {
    // another site's page may not even read (or embed) what the dashboard shows
    return { status: 403, message: "cross-site request refused" };
  }
  if (tokenInUrl) return undefined;
  if (!sameSecret(readCookie(req, cookieName(port)), secrets.session)) {
    return { status: 401, message: "not signed in: open the URL `bottle ui` printed (it carries a one-run token)" };
  }
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Headers on every response: nothing from elsewhere, nothing embedded, nothing cached. */
export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
};
