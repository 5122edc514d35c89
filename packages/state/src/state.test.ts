import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BottleError } from "@bottle/errors";
import { parseManifest } from "@bottle/manifest";
import { resolvePlan } from "@bottle/plan";
import { describe, expect, it } from "vitest";
import {
  mergeApprovedRoute,
  addApprovedRoute,
  listMetadata,
  prepareStateDir,
  readApprovedRoutes,
  readMetadata,
  removeApprovedRoute,
  resolveSecrets,
  retireState,
  stateDirFor,
  writeBundleFiles,
  writeMetadata,
  writeRoutes,
} from "./index.js";

const tmp = () => mkdtempSync(path.join(os.tmpdir(), "bottle-state-"));
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

function planFor(dir: string, extra: Record<string, unknown> = {}) {
  const manifest = parseManifest(
    JSON.stringify({
      bottles: {
        b: {
          egress: { routes: [{ host: "api.example.com", inject: { "x-api-key": { env: "K_API" } } }] },
          git: {
            upstreams: [
              { name: "app", url: "ssh://git@git.example.com/app.git", credential: { file: "./key" }, knownHostKey: "git.example.com ssh-ed25519 AAAA" },
              { name: "docs", url: "https://git.example.com/docs.git", credential: { env: "K_TOKEN" } },
            ],
          },
          ...extra,
        },
      },
    }),
  );
  return resolvePlan(manifest, "b", { manifestPath: path.join(dir, "bottle.json") });
}

describe("resolveSecrets", () => {
  it("reads env vars and files; an ssh key file gets its final newline", async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, "key"), "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----");
    const values = await resolveSecrets(planFor(dir), { env: { K_API: "sk-1", K_TOKEN: "tok" } });
    expect(values).toEqual({
      "route.r0-api.example.com.x-api-key": "sk-1",
      "git.app.credential": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n",
      "git.docs.credential": "tok",
    });
  });

  it("reports every missing secret at once, naming sources, never values", async () => {
    const dir = tmp();
    try {
      await resolveSecrets(planFor(dir), { env: { K_TOKEN: "tok-secret-value" } });
      expect.unreachable();
    } catch (error) {
      expect(BottleError.isInstance(error)).toBe(true);
      const message = (error as Error).message;
      expect(message).toContain("needs 2 secrets");
      expect(message).toContain("environment variable K_API is not set");
      expect(message).toContain(`cannot read ${path.join(dir, "key")}`);
      expect(message).not.toContain("tok-secret-value");
    }
  });
});

describe("writeBundleFiles", () => {
  it("renders every bundle file with the contract's modes", async () => {
    const dir = tmp();
    const plan = planFor(dir);
    const layout = await prepareStateDir(path.join(dir, "state"));
    const secrets = { "route.r0-api.example.com.x-api-key": "sk-1", "git.app.credential": "KEY\n", "git.docs.credential": "tok" };
    await writeBundleFiles(layout, plan, { secrets });

    expect(mode(layout.root)).toBe("700");
    expect(mode(layout.secrets)).toBe("700");
    expect(JSON.parse(readFileSync(path.join(layout.secrets, "secrets.json"), "utf8"))).toEqual(secrets);
    expect(mode(path.join(layout.secrets, "secrets.json"))).toBe("600");
    expect(readFileSync(path.join(layout.secrets, "git/app/ssh_key"), "utf8")).toBe("KEY\n");
    expect(readFileSync(path.join(layout.secrets, "git/docs/token"), "utf8")).toBe("tok");
    expect(mode(path.join(layout.secrets, "git/docs/token"))).toBe("600");
    expect(mode(path.join(layout.ca, "ca.key"))).toBe("600");
    expect(readFileSync(path.join(layout.ca, "ca.key"), "utf8")).toContain("BEGIN EC PRIVATE KEY");

    const routes = JSON.parse(readFileSync(path.join(layout.config, "routes.json"), "utf8"));
    expect(routes.routes.map((r: { host: string }) => r.host)).toEqual(["api.example.com"]);
    expect(JSON.stringify(routes)).not.toContain("sk-1");
    const daemons = JSON.parse(readFileSync(path.join(layout.config, "daemons.json"), "utf8"));
    expect(daemons.daemons.map((d: { name: string }) => d.name)).toEqual(["egress", "git-gate", "supervise"]);
    expect(readdirSync(layout.gitGate)).toEqual(expect.arrayContaining(["entrypoint.sh", "app.known_hosts"]));
    // nothing half-written is left behind
    expect(readdirSync(layout.config).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("keeps the CA across launches and writes pipelock's config and secrets when enabled", async () => {
    const dir = tmp();
    const plan = planFor(dir, { pipelock: { enabled: true } });
    const layout = await prepareStateDir(path.join(dir, "state"));
    const secrets = { "route.r0-api.example.com.x-api-key": "sk-1234567890", "git.app.credential": "KEY\n", "git.docs.credential": "tok-1234567890" };
    await writeBundleFiles(layout, plan, { secrets, internalCidr: "192.168.16.0/20" });
    const ca = readFileSync(path.join(layout.ca, "ca.crt"), "utf8");
    await writeBundleFiles(layout, plan, { secrets, internalCidr: "192.168.16.0/20" });
    expect(readFileSync(path.join(layout.ca, "ca.crt"), "utf8")).toBe(ca);
    expect(readFileSync(path.join(layout.config, "pipelock.yaml"), "utf8")).toContain("192.168.16.0/20");
    expect(mode(path.join(layout.secrets, "pipelock-secrets.txt"))).toBe("600");
    // egress trusts the bottle CA upstream, because pipelock intercepts after it
    expect(readFileSync(path.join(layout.ca, "upstream-ca.pem"), "utf8")).toContain(ca.trim());
    await expect(writeBundleFiles(layout, plan, { secrets })).rejects.toThrow(/CIDR/);
  });
});

describe("approved routes and metadata", () => {
  it("replaces an approval with the same id and re-renders routes with it", async () => {
    const dir = tmp();
    const plan = planFor(dir);
    const layout = await prepareStateDir(path.join(dir, "state"));
    const route = { id: "approved-req-1", host: "docs.example.com", ports: [443], methods: ["GET"], paths: [], inject: [], passthrough: false, scan: true, onFinding: "block" as const };
    await addApprovedRoute(layout, route);
    const approved = await addApprovedRoute(layout, { ...route, methods: ["GET", "HEAD"] });
    expect(approved).toHaveLength(1);
    expect(await readApprovedRoutes(layout)).toEqual(approved);
    await writeRoutes(layout, plan, approved);
    const hosts = JSON.parse(readFileSync(path.join(layout.config, "routes.json"), "utf8")).routes.map((r: { host: string }) => r.host);
    expect(hosts).toEqual(["api.example.com", "docs.example.com"]);
    // revoking takes it out again; an unknown id changes nothing
    expect(await removeApprovedRoute(layout, "approved-req-2")).toHaveLength(1);
    expect(await removeApprovedRoute(layout, route.id)).toEqual([]);
    expect(await readApprovedRoutes(layout)).toEqual([]);
  });

  it("lists metadata newest first and retires secrets but keeps the rest", async () => {
    const root = tmp();
    const base = { version: 1 as const, bottle: "b", backend: "docker" as const, manifestPath: "/m/bottle.json", composeProject: "p", networks: { internal: "i", egress: "e" }, containers: { bundle: "x", agent: "y" } };
    for (const [slug, at] of [["old-1", "2026-01-01T00:00:00Z"], ["new-2", "2026-02-01T00:00:00Z"]] as const) {
      const layout = await prepareStateDir(path.join(root, slug));
      await writeMetadata(layout.root, { ...base, slug, startedAt: at });
    }
    expect((await listMetadata(root)).map((m) => m.slug)).toEqual(["new-2", "old-1"]);
    await retireState(path.join(root, "old-1"));
    expect(readdirSync(path.join(root, "old-1"))).not.toContain("secrets");
    expect((await readMetadata(path.join(root, "old-1")))?.slug).toBe("old-1");
    expect(stateDirFor("s", { XDG_STATE_HOME: "/xdg" })).toBe("/xdg/bottle/s");
  });
});

describe("mergeApprovedRoute", () => {
  const approved = (id: string, host: string, ports: number[], methods: string[]) => ({
    id,
    host,
    ports,
    methods,
    paths: [],
    inject: [],
    passthrough: false,
    scan: true,
    onFinding: "block" as const,
  });

  it("widens the route already approved for a host instead of adding a duplicate", () => {
    const first = [approved("approved-req-1", "docs.example.com", [443], ["GET"])];
    const merged = mergeApprovedRoute(first, approved("approved-req-2", "docs.example.com", [8443, 443], ["POST", "GET"]));
    expect(merged).toEqual([approved("approved-req-1", "docs.example.com", [443, 8443], ["GET", "POST"])]);
    // no method limit on either side stays no limit
    expect(mergeApprovedRoute(merged, approved("approved-req-3", "docs.example.com", [443], []))[0]!.methods).toEqual([]);
  });

  it("adds a route for a new host and replaces one with the same id", () => {
    const one = [approved("approved-req-1", "a.example.com", [443], [])];
    expect(mergeApprovedRoute(one, approved("approved-req-2", "b.example.com", [443], [])).map((r) => r.host)).toEqual(["a.example.com", "b.example.com"]);
    expect(mergeApprovedRoute(one, approved("approved-req-1", "c.example.com", [443], []))).toEqual([approved("approved-req-1", "c.example.com", [443], [])]);
  });
});
