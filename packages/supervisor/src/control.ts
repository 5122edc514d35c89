import { request } from "node:http";

export interface ControlResponse {
  status: number;
  body: unknown;
}

function call(method: "GET" | "POST", port: number, path: string, host: string, timeoutMs: number) {
  return new Promise<ControlResponse>((resolve, reject) => {
    const req = request({ host, port, path, method, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // keep the raw text
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** `GET /healthz` of a running supervisor (what the container HEALTHCHECK runs). */
export function fetchHealth(port: number, host = "127.0.0.1", timeoutMs = 3_000): Promise<ControlResponse> {
  return call("GET", port, "/healthz", host, timeoutMs);
}

/**
 * Asks a running supervisor to send `signal` (HUP, USR1, USR2) to one daemon. The supervisor
 * accepts this from loopback only, so it works from `docker exec` / machine exec in the bundle.
 */
export function requestSignal(
  port: number,
  daemon: string,
  signal: string,
  host = "127.0.0.1",
  timeoutMs = 3_000,
): Promise<ControlResponse> {
  const query = new URLSearchParams({ daemon, signal }).toString();
  return call("POST", port, `/signal?${query}`, host, timeoutMs);
}
