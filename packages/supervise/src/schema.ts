import { isIP } from "node:net";
import { z } from "zod";

/** Methods a route may be limited to. */
export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** Longest wait a tool call may ask for (seconds). */
export const MAX_WAIT_SECONDS = 600;

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Why `host` is not a host name egress can route, or undefined when it is. Accepts an exact
 * name (`api.example.com`) or a wildcard over one or more labels (`*.example.com`).
 */
export function routeHostProblem(host: string): string | undefined {
  if (host.trim() === "") return "host is empty; give a host name like api.example.com";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) {
    return `"${host}" is a URL; give the bare host name only (e.g. ${hostOfUrl(host) ?? "api.example.com"})`;
  }
  if (/[/?#@\s]/.test(host)) return `"${host}" is not a bare host name (no path, user or spaces)`;
  if (isIP(host.replace(/^\[|\]$/g, "")) !== 0) {
    return `"${host}" is an IP address; ask for the host name the client connects to`;
  }
  if (host.includes(":")) return `"${host}" contains a port; give the host alone and the port in "ports"`;
  const name = host.toLowerCase().replace(/\.$/, "");
  const labels = (name.startsWith("*.") ? name.slice(2) : name).split(".");
  if (!labels.every((l) => LABEL.test(l))) {
    return `"${host}" is not a valid host name (letters, digits and hyphens per label; "*." only as a prefix)`;
  }
  if (labels.length < 2) return `"${host}" needs a domain (e.g. api.example.com); single-label names are internal`;
  return undefined;
}

function hostOfUrl(url: string): string | undefined {
  try {
    return new URL(url).hostname || undefined;
  } catch {
    return undefined;
  }
}

const hostSchema = z
  .string({ message: "host is required: a host name like api.example.com" })
  .superRefine((host, ctx) => {
    const problem = routeHostProblem(host);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .transform((host) => host.toLowerCase().replace(/\.$/, ""))
  .describe("Host name only, e.g. api.example.com or *.example.com (no scheme, port or path)");

const methodSchema = z
  .string()
  .transform((m) => m.toUpperCase())
  .pipe(z.enum(HTTP_METHODS, { message: `method must be one of ${HTTP_METHODS.join(", ")}` }));

const waitSchema = z
  .number({ message: "wait_seconds must be a number of seconds" })
  .int("wait_seconds must be a whole number of seconds")
  .min(0, "wait_seconds cannot be negative")
  .max(MAX_WAIT_SECONDS, `wait_seconds is at most ${MAX_WAIT_SECONDS}; call list_requests later to check again`)
  .optional()
  .describe(`Seconds to wait for the human's decision (0-${MAX_WAIT_SECONDS}, default 0 = return at once)`);

/** Arguments of the `request_egress_route` tool. */
export const requestEgressRouteArgs = {
  host: hostSchema,
  methods: z
    .array(methodSchema)
    .max(HTTP_METHODS.length)
    .optional()
    .describe(`HTTP methods needed (${HTTP_METHODS.join(", ")}); omit for any method`),
  ports: z
    .array(
      z
        .number({ message: "ports must be numbers" })
        .int("ports must be whole numbers")
        .min(1, "ports are 1-65535")
        .max(65535, "ports are 1-65535"),
    )
    .min(1, "ports, when given, needs at least one port")
    .max(8, "at most 8 ports per request")
    .optional()
    .describe("TCP ports, default [443]"),
  reason: z
    .string({ message: "reason is required: say why the task needs this host" })
    .trim()
    .min(1, "reason is empty; say why the task needs this host")
    .max(2000, "reason is longer than 2000 characters")
    .describe("Why the task needs this host; the human reads this"),
  wait_seconds: waitSchema,
};

/** Arguments of the `ask_human` tool. */
export const askHumanArgs = {
  question: z
    .string({ message: "question is required" })
    .trim()
    .min(1, "question is empty")
    .max(4000, "question is longer than 4000 characters")
    .describe("The question for the human, self-contained"),
  wait_seconds: waitSchema,
};

/** Arguments of the `list_requests` tool. */
export const listRequestsArgs = {
  status: z
    .enum(["pending", "approved", "denied", "all"])
    .optional()
    .describe("Only requests with this status (default all)"),
};

const isoDate = z.string().min(1);

export const egressRouteRequestSchema = z.object({
  host: z.string(),
  methods: z.array(z.string()),
  ports: z.array(z.number().int()),
  reason: z.string(),
});

export const questionRequestSchema = z.object({ question: z.string() });

const decisionSchema = z.object({
  at: isoDate,
  reason: z.string().optional(),
  answer: z.string().optional(),
  /** Who decided (host user, and whether through the CLI or the dashboard). */
  by: z.string().optional(),
  /** Approval narrowed by the human: only these methods / path prefixes (docs/audit.md). */
  methods: z.array(z.string()).optional(),
  paths: z.array(z.string()).optional(),
});

/** An approved route taken back by the human. */
const revocationSchema = z.object({ at: isoDate, by: z.string().optional(), reason: z.string().optional() });

const base = {
  id: z.string(),
  status: z.enum(["pending", "approved", "denied"]),
  createdAt: isoDate,
  decision: decisionSchema.optional(),
  revoked: revocationSchema.optional(),
};

/** One file under the requests folder (docs/bundle-contract.md). */
export const superviseRequestSchema = z.discriminatedUnion("kind", [
  z.object({ ...base, kind: z.literal("egress-route"), request: egressRouteRequestSchema }),
  z.object({ ...base, kind: z.literal("question"), request: questionRequestSchema }),
]);

export type SuperviseRequest = z.infer<typeof superviseRequestSchema>;
export type EgressRouteRequest = Extract<SuperviseRequest, { kind: "egress-route" }>;
export type QuestionRequest = Extract<SuperviseRequest, { kind: "question" }>;
export type RequestStatus = SuperviseRequest["status"];
