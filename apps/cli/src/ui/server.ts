import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { BottleError } from "@bottle/errors";
import type { BottleMetadata } from "@bottle/state";
import { approveRequest, decidedBy, denyRequest, revokeRoute, stopBottle } from "../steer.js";
import { cookieName, newSecrets, refusal, sameSecret, SECURITY_HEADERS } from "./guard.js";
import { DashboardModel } from "./model.js";

export interface DashboardOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** How often the live view re-reads the state dirs. Default 500 ms. */
  pollMs?: number;
  log?: (line: string) => void;
}

export interface RunningDashboard {
  /** Open this (it carries the one-run token). */
  url: string;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  close(): Promise<void>;
}

/** The bundled page (dist/ui), next to the CLI's own bundle; from sources, the built copy. */
async function loadAssets(): Promise<{ js: string; css: string }> {
  const candidates = [new URL("./ui/", import.meta.url), new URL("../../dist/ui/", import.meta.url)];
  for (const dir of candidates) {
    try {
      return { js: await readFile(fileURLToPath(new URL("app.js", dir)), "utf8"), css: await readFile(fileURLToPath(new URL("app.css", dir)), "utf8") };
    } catch {
      // next
    }
  }
  throw new BottleError("the dashboard's page is missing from this build", { code: "CLI_UI_ASSETS", hint: "rebuild the CLI (`pnpm build`)" });
}

const page = (csrf: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="bottle-csrf" content="${csrf}">
<title>bottle</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/app.css">
<script defer src="/assets/app.js"></script>
</head>
<body><noscript>The bottle dashboard needs JavaScript (served from this process only).</noscript><div id="app"></div></body>
</html>
`;

type Json = Record<string, unknown>;

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}) {
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, ...extra });
  res.end(body);
}
const sendJson = (res: ServerResponse, status: number, value: unknown) => send(res, status, "application/json; charset=utf-8", JSON.stringify(value));

function errorBody(error: unknown): { status: number; body: Json } {
  if (BottleError.isInstance(error)) return { status: 400, body: { error: { code: error.code, message: error.message, hint: error.hint } } };
  return { status: 500, body: { error: { code: "BUG", message: (error as Error).message } } };
}

async function readJsonBody(req: IncomingMessage): Promise<Json> {
  if (!(req.headers["content-type"] ?? "").startsWith("application/json")) {
    throw new BottleError("send JSON", { code: "CLI_UI_BAD_REQUEST", hint: "content-type: application/json" });
  }
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new BottleError("request body too large", { code: "CLI_UI_BAD_REQUEST", hint: "at most 64 KiB" });
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8") || "{}";
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BottleError("the body is not JSON", { code: "CLI_UI_BAD_REQUEST", hint: "send a JSON object" });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new BottleError("send a JSON object", { code: "CLI_UI_BAD_REQUEST", hint: "{...}" });
  return value as Json;
}

const text = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
const strings = (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined);

interface StreamClient {
  res: ServerResponse;
  slug?: string;
  lastBottles?: string;
  lastDetail?: string;
  sentEvents: number;
}

/**
 * Serves the dashboard on 127.0.0.1 only. Reads and decides through the same functions
 * as the commands (steer.ts, @bottle/audit); live updates go out as Server-Sent Events.
 */
export async function startDashboard(options: DashboardOptions = {}): Promise<RunningDashboard> {
  const assets = await loadAssets();
  const secrets = newSecrets();
  const model = new DashboardModel();
  const clients = new Set<StreamClient>();
  const log = options.log ?? (() => {});
  let origin = "";
  let port = 0;

  const findBottle = async (slug: string): Promise<BottleMetadata> => {
    const found = (await model.metadata()).find((m) => m.slug === slug);
    if (!found) throw new BottleError(`no bottle ${slug}`, { code: "CLI_UNKNOWN_BOTTLE", hint: "pick one from the list" });
    return found;
  };

  // --- live updates -------------------------------------------------------------------
  let ticking = false;
  let lastBottlesAt = 0;
  let bottlesJson = "[]";
  const tick = async (force = false) => {
    if (ticking || clients.size === 0) return;
    ticking = true;
    try {
      const all = await model.metadata();
      const watched = new Set([...clients].map((c) => c.slug));
      for (const m of all) {
        const feed = model.feed(m);
        // stopped bottles' files no longer grow: read once, unless a page is on them
        if (!m.stoppedAt || !feed.polled || watched.has(m.slug)) await feed.poll();
      }
      if (force || Date.now() - lastBottlesAt > 2_000) {
        lastBottlesAt = Date.now();
        bottlesJson = JSON.stringify(await Promise.all(all.map((m) => model.summary(m))));
      }
      for (const client of clients) {
        if (client.lastBottles !== bottlesJson) {
          client.lastBottles = bottlesJson;
          client.res.write(`event: bottles\ndata: ${bottlesJson}\n\n`);
        }
        const metadata = client.slug ? all.find((m) => m.slug === client.slug) : undefined;
        if (!metadata) continue;
        const feed = model.feed(metadata);
        const fresh = feed.after(client.sentEvents);
        client.sentEvents = feed.total;
        if (fresh.length > 0) client.res.write(`event: audit\ndata: ${JSON.stringify(fresh)}\n\n`);
        const detail = JSON.stringify(await model.detail(metadata));
        if (client.lastDetail !== detail) {
          client.lastDetail = detail;
          client.res.write(`event: detail\ndata: ${detail}\n\n`);
        }
      }
    } catch (error) {
      log(`dashboard: refresh failed: ${(error as Error).message}`);
    } finally {
      ticking = false;
    }
  };
  const timer = setInterval(() => void tick(), options.pollMs ?? 500);
  timer.unref();

  // --- HTTP ---------------------------------------------------------------------------
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", origin);
    const tokenInUrl = req.method === "GET" && url.pathname === "/" && url.searchParams.has("token");
    const refused = refusal(req, secrets, origin, port, tokenInUrl);
    if (refused) {
      // a refused state change is worth a line: someone tried to act from elsewhere
      if (refused.status !== 401 || req.method !== "GET") log(`dashboard: refused ${req.method} ${url.pathname} (${refused.status} ${refused.message}; origin ${req.headers.origin ?? "none"})`);
      return send(res, refused.status, "text/plain; charset=utf-8", `${refused.message}\n`);
    }
    if (tokenInUrl) {
      if (!sameSecret(url.searchParams.get("token") ?? "", secrets.token)) return send(res, 401, "text/plain; charset=utf-8", "wrong token: open the URL `bottle ui` printed\n");
      // trade the token for the cookie and drop it from the address bar and history
      return send(res, 303, "text/plain; charset=utf-8", "signed in\n", {
        "set-cookie": `${cookieName(port)}=${secrets.session}; HttpOnly; SameSite=Strict; Path=/`,
        location: "/",
      });
    }
    const { pathname } = url;
    if (req.method === "GET") {
      if (pathname === "/") return send(res, 200, "text/html; charset=utf-8", page(secrets.csrf));
      if (pathname === "/assets/app.js") return send(res, 200, "text/javascript; charset=utf-8", assets.js);
      if (pathname === "/assets/app.css") return send(res, 200, "text/css; charset=utf-8", assets.css);
      if (pathname === "/api/bottles") {
        const all = await model.metadata();
        for (const m of all) await model.feed(m).poll();
        return sendJson(res, 200, await Promise.all(all.map((m) => model.summary(m))));
      }
      const bottle = /^\/api\/bottles\/([a-z0-9-]+)$/.exec(pathname);
      if (bottle) {
        const metadata = await findBottle(bottle[1]!);
        const feed = model.feed(metadata);
        await feed.poll();
        return sendJson(res, 200, { ...(await model.detail(metadata)), events: feed.recent, total: feed.total });
      }
      if (pathname === "/api/stream") {
        const after = Number(url.searchParams.get("after") ?? "NaN");
        return openStream(req, res, url.searchParams.get("slug") ?? undefined, Number.isInteger(after) && after >= 0 ? after : undefined);
      }
      return send(res, 404, "text/plain; charset=utf-8", "not found\n");
    }
    if (req.method === "POST") {
      const action = /^\/api\/bottles\/([a-z0-9-]+)\/(?:requests\/(req-[0-9a-f]{8})\/(approve|deny|revoke)|(stop))$/.exec(pathname);
      if (!action) return send(res, 404, "text/plain; charset=utf-8", "not found\n");
      const body = await readJsonBody(req);
      const metadata = await findBottle(action[1]!);
      const target = model.targetOf(metadata);
      const by = decidedBy("ui");
      const reason = text(body.reason);
      let result: unknown;
      if (action[4] === "stop") {
        result = await stopBottle(target, () => {});
      } else {
        const id = action[2]!;
        const { readRequest } = await import("@bottle/supervise");
        await readRequest(target.layout.requests, id); // the id must belong to this bottle
        if (action[3] === "approve") {
          const methods = strings(body.methods);
          const paths = strings(body.paths);
          const narrow = methods || paths ? { ...(methods ? { methods } : {}), ...(paths ? { paths } : {}) } : undefined;
          const answer = text(body.answer);
          result = await approveRequest(target, id, { by, ...(reason ? { reason } : {}), ...(answer ? { answer } : {}), ...(narrow ? { narrow } : {}) });
        } else if (action[3] === "deny") result = await denyRequest(target, id, { by, ...(reason ? { reason } : {}) });
        else result = await revokeRoute(target, id, { by, ...(reason ? { reason } : {}) });
      }
      log(`dashboard: ${action[3] ?? "stop"} ${action[2] ?? action[1]} by ${by}`);
      void tick(true);
      return sendJson(res, 200, result);
    }
    res.setHeader("allow", "GET, POST");
    return send(res, 405, "text/plain; charset=utf-8", "method not allowed\n");
  };

  function openStream(req: IncomingMessage, res: ServerResponse, slug: string | undefined, after: number | undefined) {
    res.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" });
    res.write("retry: 2000\n\n");
    const client: StreamClient = { res, ...(slug ? { slug } : {}), sentEvents: 0 };
    // a page that opens now already has `recent` from /api/bottles/:slug
    void (async () => {
      const metadata = slug ? (await model.metadata()).find((m) => m.slug === slug) : undefined;
      if (metadata) {
        const feed = model.feed(metadata);
        await feed.poll();
        // the page already holds the records up to `after` (from /api/bottles/:slug)
        client.sentEvents = after ?? feed.total;
      }
      clients.add(client);
      void tick(true);
    })();
    const ping = setInterval(() => res.write(": ping\n\n"), 15_000);
    req.on("close", () => {
      clearInterval(ping);
      clients.delete(client);
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const { status, body } = errorBody(error);
      if (!res.headersSent) sendJson(res, status, body);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new BottleError(`port ${options.port} on 127.0.0.1 is in use`, { code: "CLI_UI_PORT_IN_USE", hint: "pick another with --port, or leave it out for a free one" })
          : error,
      ),
    );
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/?token=${secrets.token}`,
    origin,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        for (const c of clients) c.res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
