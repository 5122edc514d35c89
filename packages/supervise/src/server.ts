import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { BottleError, formatBottleError } from "@bottle/errors";
import { askHumanArgs, listRequestsArgs, requestEgressRouteArgs, MAX_WAIT_SECONDS, type SuperviseRequest } from "./schema.js";
import { serialized } from "./pending-lock.js";
import { createRequest, listRequests, readRequest, waitForDecision, type NewRequest } from "./store.js";
import { z } from "zod";

export interface SuperviseServerOptions {
  /** Folder of request files (in the bundle: /var/lib/bottle/requests). */
  stateDir: string;
  /** How often a waiting tool call re-reads its request file. Default 250 ms. */
  pollMs?: number;
  /** Interval of progress notifications while a tool call waits (when the client sent a progressToken). Default 10 s. */
  progressMs?: number;
  /** Most pending requests the agent may have at once. Default 20. */
  maxPending?: number;
  log?: (line: string) => void;
}

const VERSION = "0.1.0";

function routeText(r: Extract<SuperviseRequest, { kind: "egress-route" }>["request"]): string {
  const methods = r.methods.length > 0 ? r.methods.join(",") : "any method";
  return `${r.host} port ${r.ports.join(",")} (${methods})`;
}

function narrowingText(d: SuperviseRequest["decision"]): string | undefined {
  const parts = [d?.methods?.length ? `for ${d.methods.join(",")}` : "", d?.paths?.length ? `under ${d.paths.join(", ")}` : ""].filter(Boolean);
  return parts.length > 0 ? parts.join(" ") : undefined;
}

/** What the agent reads about one request. */
export function describeRequest(req: SuperviseRequest): string {
  const note = req.decision?.reason ? ` Note from the human: ${req.decision.reason}` : "";
  if (req.kind === "egress-route") {
    const what = `egress route to ${routeText(req.request)}`;
    if (req.revoked) return `Request ${req.id} (${what}) was approved, then revoked by the human at ${req.revoked.at}: it is blocked again.${req.revoked.reason ? ` Note from the human: ${req.revoked.reason}` : ""}`;
    const narrowed = narrowingText(req.decision);
    if (req.status === "approved" && narrowed) return `Request ${req.id} approved, narrowed: ${req.request.host} is allowed ${narrowed} only, and already live: retry the request now. Other methods and paths stay blocked.${note}`;
    switch (req.status) {
      case "pending":
        return `Request ${req.id} (${what}) is pending: the human has not decided yet. Check later with list_requests or wait_for_request.`;
      case "approved":
        return `Request ${req.id} approved: ${what} is allowed and already live: retry the request now.${note}`;
      case "denied":
        return `Request ${req.id} denied: ${what} stays blocked. Do not try to reach it another way.${note}`;
    }
  }
  switch (req.status) {
    case "pending":
      return `Question ${req.id} is pending: the human has not answered yet. Check later with list_requests or wait_for_request.`;
    case "approved":
      return `Question ${req.id} answered: ${req.decision?.answer ?? "(no text)"}${note}`;
    case "denied":
      return `Question ${req.id} was declined; carry on without an answer.${note}`;
  }
}

function result(req: SuperviseRequest): CallToolResult {
  return {
    content: [{ type: "text", text: `${describeRequest(req)}\n\n${JSON.stringify(req, null, 2)}` }],
  };
}

function toolError(error: unknown): CallToolResult {
  const text = BottleError.isInstance(error) ? formatBottleError(error) : (error as Error).message;
  return { content: [{ type: "text", text }], isError: true };
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** An MCP server with the supervise tools over `options.stateDir`. One per HTTP request (stateless). */
export function createSuperviseMcpServer(options: SuperviseServerOptions): McpServer {
  const { stateDir } = options;
  const pollMs = options.pollMs ?? 250;
  const maxPending = options.maxPending ?? 20;
  const log = options.log ?? (() => {});
  const server = new McpServer({ name: "bottle-supervise", version: VERSION });

  const wait = async (req: SuperviseRequest, seconds: number | undefined, extra: Extra) => {
    if (!seconds || req.status !== "pending") return req;
    // Progress notifications let clients that reset their timeout on progress keep waiting.
    const token = extra._meta?.progressToken;
    return waitForDecision(stateDir, req.id, {
      timeoutMs: seconds * 1000,
      pollMs,
      tickMs: options.progressMs ?? 10_000,
      signal: extra.signal,
      ...(token === undefined
        ? {}
        : {
            onTick: (elapsedMs: number) =>
              extra
                .sendNotification({
                  method: "notifications/progress",
                  params: {
                    progressToken: token,
                    progress: Math.round(elapsedMs / 1000),
                    total: seconds,
                    message: `waiting for the human to decide ${req.id}`,
                  },
                })
                .catch(() => {}),
          }),
    });
  };

  const file = async (input: NewRequest, seconds: number | undefined, extra: Extra) => {
    // Check and create as one step (pending-lock.ts); the wait happens outside it.
    const req = await serialized(stateDir, async () => {
      const pending = (await listRequests(stateDir)).filter((r) => r.status === "pending");
      if (pending.length >= maxPending) {
        throw new BottleError(`There are already ${pending.length} pending requests`, {
          code: "SUPERVISE_TOO_MANY_PENDING",
          hint: "Wait for the human to decide the pending ones (list_requests) before asking again.",
        });
      }
      return createRequest(stateDir, input);
    });
    log(`new ${req.kind} request ${req.id}: ${JSON.stringify(req.request)}`);
    return wait(req, seconds, extra);
  };

  server.registerTool(
    "request_egress_route",
    {
      title: "Ask for network access to a host",
      description:
        "Ask the human to allow HTTP(S) traffic from this sandbox to a host that is currently blocked. " +
        "The human sees the host, ports, methods and your reason, and approves or denies. " +
        `Pass wait_seconds (up to ${MAX_WAIT_SECONDS}) to wait for the decision in this call.`,
      inputSchema: requestEgressRouteArgs,
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    async (args, extra) => {
      try {
        const request = { host: args.host, methods: args.methods ?? [], ports: args.ports ?? [443], reason: args.reason };
        return result(await file({ kind: "egress-route", request }, args.wait_seconds, extra));
      } catch (error) {
        return toolError(error);
      }
    },
  );

  server.registerTool(
    "ask_human",
    {
      title: "Ask the human a question",
      description:
        "Ask the human who supervises this sandbox a question (a decision, missing information). " +
        `Pass wait_seconds (up to ${MAX_WAIT_SECONDS}) to wait for the answer in this call.`,
      inputSchema: askHumanArgs,
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    async (args, extra) => {
      try {
        return result(await file({ kind: "question", request: { question: args.question } }, args.wait_seconds, extra));
      } catch (error) {
        return toolError(error);
      }
    },
  );

  server.registerTool(
    "list_requests",
    {
      title: "List my requests",
      description: "List the egress-route requests and questions this sandbox has filed, with their status and decision.",
      inputSchema: listRequestsArgs,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args) => {
      try {
        const all = await listRequests(stateDir);
        const chosen = !args.status || args.status === "all" ? all : all.filter((r) => r.status === args.status);
        const text =
          chosen.length === 0
            ? "No requests."
            : `${chosen.map((r) => `- ${describeRequest(r)}`).join("\n")}\n\n${JSON.stringify(chosen, null, 2)}`;
        return { content: [{ type: "text", text }] };
      } catch (error) {
        return toolError(error);
      }
    },
  );

  server.registerTool(
    "wait_for_request",
    {
      title: "Wait for a decision",
      description: "Wait for the human's decision on a request filed earlier (by its id, e.g. req-1a2b3c4d).",
      inputSchema: {
        id: z.string().regex(/^req-[0-9a-f]{8}$/, "id looks like req-1a2b3c4d (see list_requests)"),
        wait_seconds: requestEgressRouteArgs.wait_seconds,
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args, extra) => {
      try {
        const current = await readRequest(stateDir, args.id);
        return result(await wait(current, args.wait_seconds, extra));
      } catch (error) {
        return toolError(error);
      }
    },
  );

  return server;
}

export interface SuperviseHttpOptions extends SuperviseServerOptions {
  /** Default 9100 (docs/bundle-contract.md); 0 picks a free port. */
  port?: number;
  /** Default 0.0.0.0: the agent reaches it over the internal network. */
  host?: string;
}

export interface RunningSupervise {
  /** e.g. http://127.0.0.1:9100/mcp */
  url: string;
  port: number;
  close(): Promise<void>;
}

function jsonRpcError(res: ServerResponse, status: number, message: string) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

/**
 * Serves the supervise MCP server over Streamable HTTP at `/mcp`, stateless: every POST
 * gets a fresh server and transport, so restarts of the daemon lose nothing (all state is
 * in the request files). `GET /healthz` answers 200.
 */
export async function startSuperviseServer(options: SuperviseHttpOptions): Promise<RunningSupervise> {
  const log = options.log ?? (() => {});
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://supervise").pathname;
    if (path === "/healthz" && req.method === "GET") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (path !== "/mcp") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found; the MCP endpoint is /mcp\n");
      return;
    }
    if (req.method !== "POST") {
      // Stateless: no standalone SSE stream and no sessions to delete.
      res.setHeader("allow", "POST");
      jsonRpcError(res, 405, "Method not allowed.");
      return;
    }
    const server = createSuperviseMcpServer(options);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res);
    } catch (error) {
      log(`error handling MCP request: ${(error as Error).message}`);
      if (!res.headersSent) jsonRpcError(res, 500, "Internal server error");
    }
  };
  const http: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 9100, options.host ?? "0.0.0.0", () => {
      http.off("error", reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  const shownHost = !options.host || options.host === "0.0.0.0" ? "127.0.0.1" : options.host;
  return {
    url: `http://${shownHost}:${port}/mcp`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}
