// Test-only: the scripted Messages-API server (assets/messages-api/server.mjs) in a
// container of the upstream image, answering HTTPS for the given host names with
// certificates from its own test CA (trusted by a bottle through extraCaBundle).
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createBottleCa, loadBottleCa, mintLeafCertificate } from "@bottle/ca";
import { docker, dockerOk, UPSTREAM_IMAGE, waitFor } from "./upstream.js";

const here = path.dirname(fileURLToPath(import.meta.url));

export interface RecordedModelRequest {
  host: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON, when it was JSON. */
  json?: { model?: string; stream?: boolean; tools?: Array<{ name: string }>; messages?: Array<{ role: string; content: unknown }> };
}

export interface MessagesApi {
  container: string;
  /** PEM of the CA that signed the server's certificates (for extraCaBundle). */
  caFile: string;
  hosts: string[];
  /** Connects the server to a network under its host names (a bottle's egress network). */
  attach(network: string): void;
  detach(network: string): void;
  requests(): RecordedModelRequest[];
  remove(): void;
}

/** A step of a scripted conversation: a tool call the model makes, or a text answer. */
export type ScriptStep = { tool: string; input: Record<string, unknown> } | { text: string };

/** Prompt text that makes the scripted model play `steps` (see assets/messages-api/server.mjs). */
export function scriptedPrompt(steps: ScriptStep[], preface = "Follow the script."): string {
  return `${preface}\n<<bottle-script>>${JSON.stringify(steps)}<<end-script>>`;
}

export async function startMessagesApi(options: { name: string; network: string; hosts?: string[] }): Promise<MessagesApi> {
  const hosts = options.hosts ?? ["api.anthropic.com"];
  const dir = mkdtempSync(path.join(os.tmpdir(), "bottle-messages-api-"));
  const certs = path.join(dir, "certs");
  mkdirSync(certs);
  const caPair = await createBottleCa({ commonName: `test Messages-API CA ${options.name}` });
  const ca = await loadBottleCa(caPair);
  for (const host of hosts) {
    const leaf = await mintLeafCertificate(ca, host);
    writeFileSync(path.join(certs, `${host}.crt`), leaf.certPem);
    writeFileSync(path.join(certs, `${host}.key`), leaf.keyPem);
  }
  const caFile = path.join(dir, "ca.pem");
  writeFileSync(caFile, caPair.certPem);
  const script = path.join(here, "..", "assets", "messages-api", "server.mjs");
  dockerOk(["rm", "-f", options.name]);
  docker([
    "run", "-d", "--name", options.name, "--label", "dev.bottle.test=1", "--network", options.network,
    "-v", `${certs}:/fixture/certs:ro`, "-v", `${script}:/opt/messages-api/server.mjs:ro`,
    "--entrypoint", "/usr/local/bin/node", UPSTREAM_IMAGE, "/opt/messages-api/server.mjs",
  ]);
  waitFor(() => docker(["logs", options.name]).includes("messages-api ready"), `messages-api ${options.name} ready`);
  return {
    container: options.name,
    caFile,
    hosts,
    attach: (network) => void docker(["network", "connect", ...hosts.flatMap((h) => ["--alias", h]), network, options.name]),
    detach: (network) => void dockerOk(["network", "disconnect", "-f", network, options.name]),
    requests: () =>
      docker(["exec", options.name, "sh", "-c", "cat /var/log/messages-api/requests.jsonl 2>/dev/null || true"])
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as RecordedModelRequest),
    remove: () => void dockerOk(["rm", "-f", options.name]),
  };
}
