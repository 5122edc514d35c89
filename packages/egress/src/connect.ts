import type http from "node:http";
import type net from "node:net";
import tls from "node:tls";
import { tunnelRecord } from "./audit-record.js";
import type { ProxyContext } from "./context.js";
import { decideTunnel } from "./decide.js";
import type { LeafContexts } from "./leaf-certs.js";
import type { EgressRoutePlan } from "./routes.js";
import { parseAuthority } from "./target.js";
import { errorCode } from "./upstream.js";

/**
 * A CONNECT from the agent. A passthrough route gets a blind tunnel; anything else is
 * intercepted: TLS is terminated with a leaf certificate for the CONNECT authority (never the
 * SNI or `Host` the agent chooses) and the requests inside are served like any other; plain
 * HTTP inside the tunnel is served as plain HTTP (TLS-only routes refuse it).
 */
export async function handleConnect(ctx: ProxyContext, leafContext: LeafContexts, req: http.IncomingMessage, socket: net.Socket, head: Buffer) {
  const started = performance.now();
  socket.on("error", () => socket.destroy());
  const authority = parseAuthority(req.url ?? "");
  if (!authority) return void socket.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
  const client = `${socket.remoteAddress}:${socket.remotePort}`;
  const passthrough = decideTunnel(ctx.config(), authority.host, authority.port);
  if (passthrough) return passthroughTunnel(ctx, socket, head, authority, passthrough, client, started);

  socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
  const firstBytes = head.length > 0 ? head : await firstData(socket);
  if (!firstBytes) return void socket.destroy();
  if (firstBytes[0] !== 0x16) {
    // Plain HTTP inside the tunnel: same policy, no TLS (routes that take TLS only refuse it).
    // The HTTP server reads a plain socket's handle directly, past unshift(): hand it
    // the bytes already read as a data event.
    ctx.serveTunnel(socket, { scheme: "http", ...authority, client });
    socket.emit("data", firstBytes);
    socket.resume();
    return;
  }
  socket.unshift(firstBytes);
  let context: tls.SecureContext;
  try {
    context = await leafContext(authority.host);
  } catch (err) {
    ctx.log(`cannot mint a certificate for ${ctx.config().detector.redactHost(authority.host)}: ${(err as Error).message}`);
    return void socket.destroy();
  }
  const tlsSocket = new tls.TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: ["http/1.1"] });
  tlsSocket.on("error", () => tlsSocket.destroy());
  ctx.serveTunnel(tlsSocket, { scheme: "https", ...authority, client });
}

/** Bytes relayed both ways unseen (certificate-pinning clients); one audit line when it closes. */
function passthroughTunnel(
  ctx: ProxyContext,
  socket: net.Socket,
  head: Buffer,
  authority: { host: string; port: number },
  route: EgressRoutePlan,
  client: string,
  started: number,
) {
  const tunnel = { id: ctx.nextId(), client, host: authority.host, port: authority.port, route: route.id, started };
  const counts = { status: 200, bytesIn: head.length, bytesOut: 0 };
  ctx.upstream.tunnel(authority.host, authority.port, (err, upSocket) => {
    if (err || !upSocket) {
      counts.status = 502;
      socket.end("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      ctx.audit.write(tunnelRecord(tunnel, "error", counts, errorCode(err)));
      return;
    }
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    upSocket.setTimeout(ctx.idleMs, () => upSocket.destroy());
    if (head.length > 0) upSocket.write(head);
    upSocket.on("data", (c: Buffer) => (counts.bytesOut += c.length));
    socket.on("data", (c: Buffer) => (counts.bytesIn += c.length));
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    upSocket.on("error", () => socket.destroy());
    socket.on("close", () => upSocket.destroy());
    upSocket.on("close", () => {
      socket.destroy();
      ctx.audit.write(tunnelRecord(tunnel, "allow", counts));
    });
  });
}

/** The first bytes the client sends into the tunnel (the TLS ClientHello, or plain HTTP). */
function firstData(socket: net.Socket): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const onData = (d: Buffer) => {
      cleanup();
      resolve(d);
    };
    const onEnd = () => {
      cleanup();
      resolve(undefined);
    };
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.pause();
    };
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("close", onEnd);
  });
}
