import { BottleError } from "@bottle/errors";
import { describe, expect, it } from "vitest";
import { hostMatches, matchRoute, parseRoutesFile, renderRoutesFile, type EgressRoutePlan } from "./routes.js";

const anthropic: EgressRoutePlan = {
  id: "api-anthropic-com",
  host: "api.anthropic.com",
  ports: [443],
  methods: ["POST"],
  paths: ["/v1/"],
  inject: [{ header: "x-api-key", secret: "route.api-anthropic-com.x-api-key", prefix: "" }],
  passthrough: false,
  scan: true,
  onFinding: "block",
};
const github: EgressRoutePlan = {
  id: "github",
  host: "*.github.com",
  ports: [443],
  methods: [],
  paths: [],
  inject: [{ header: "authorization", secret: "route.github.authorization", prefix: "Bearer " }],
  passthrough: false,
  scan: false,
  onFinding: "block",
};

describe("renderRoutesFile", () => {
  it("renders version 1 with manifest routes first, then approved extras, byte-identical on repeat", () => {
    const text = renderRoutesFile({ routes: [anthropic] }, [github]);
    expect(text).toBe(renderRoutesFile({ routes: [anthropic] }, [github]));
    expect(text.endsWith("\n")).toBe(true);
    const parsed = JSON.parse(text);
    expect(parsed.version).toBe(1);
    expect(parsed.routes.map((r: EgressRoutePlan) => r.id)).toEqual(["api-anthropic-com", "github"]);
    expect(parsed.routes[0]).toEqual(anthropic);
    expect(parseRoutesFile(text).routes).toEqual([anthropic, github]);
    expect(text).toMatchInlineSnapshot(`
      "{
        "version": 1,
        "routes": [
          {
            "id": "api-anthropic-com",
            "host": "api.anthropic.com",
            "ports": [
              443
            ],
            "methods": [
              "POST"
            ],
            "paths": [
              "/v1/"
            ],
            "inject": [
              {
                "header": "x-api-key",
                "secret": "route.api-anthropic-com.x-api-key",
                "prefix": ""
              }
            ],
            "passthrough": false,
            "scan": true,
            "onFinding": "block"
          },
          {
            "id": "github",
            "host": "*.github.com",
            "ports": [
              443
            ],
            "methods": [],
            "paths": [],
            "inject": [
              {
                "header": "authorization",
                "secret": "route.github.authorization",
                "prefix": "Bearer "
              }
            ],
            "passthrough": false,
            "scan": false,
            "onFinding": "block"
          }
        ]
      }
      "
    `);
  });

  it("refuses duplicate route ids", () => {
    expect(() => renderRoutesFile({ routes: [anthropic] }, [anthropic])).toThrow(/used twice/);
  });
});

describe("parseRoutesFile", () => {
  const bad: Array<[string, unknown]> = [
    ["not JSON", "{"],
    ["wrong version", { version: 2, routes: [] }],
    ["routes not an array", { version: 1, routes: {} }],
    ["bad host", { version: 1, routes: [{ ...anthropic, host: "http://x" }] }],
    ...["1.2.3", "123", "*.4", `${"a.".repeat(126)}com`].map((host): [string, unknown] => [`host ${host.slice(0, 12)}`, { version: 1, routes: [{ ...anthropic, host }] }]),
    ["bad port", { version: 1, routes: [{ ...anthropic, ports: [0] }] }],
    ["lower-case method", { version: 1, routes: [{ ...anthropic, methods: ["get"] }] }],
    ["relative path", { version: 1, routes: [{ ...anthropic, paths: ["v1"] }] }],
    ["header with newline prefix", { version: 1, routes: [{ ...anthropic, inject: [{ header: "x", secret: "s", prefix: "a\nb" }] }] }],
    ["passthrough with inject", { version: 1, routes: [{ ...anthropic, passthrough: true }] }],
    ["missing scan", { version: 1, routes: [{ ...anthropic, scan: undefined }] }],
    ["unknown onFinding", { version: 1, routes: [{ ...anthropic, onFinding: "drop" }] }],
  ];
  it("accepts exactly the hosts the manifest accepts (one shared rule)", async () => {
    const { isHostPattern } = await import("@bottle/manifest");
    for (const host of ["api.example.com", "*.example.com", "10.0.0.1", "fd00::1", "my_host.internal", "1.2.3", "*.4", "a..b"]) {
      let accepted = true;
      try {
        parseRoutesFile(JSON.stringify({ version: 1, routes: [{ ...anthropic, host }] }));
      } catch {
        accepted = false;
      }
      expect(accepted, host).toBe(isHostPattern(host));
    }
  });
  it("reads a route without onFinding (files written before redaction) as blocking", () => {
    const { onFinding: _omitted, ...old } = anthropic;
    expect(parseRoutesFile(JSON.stringify({ version: 1, routes: [old] })).routes[0]!.onFinding).toBe("block");
  });
  for (const [name, value] of bad) {
    it(`throws a BottleError for ${name}`, () => {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      let error: unknown;
      try {
        parseRoutesFile(text);
      } catch (e) {
        error = e;
      }
      expect(BottleError.isInstance(error)).toBe(true);
      expect((error as BottleError).code).toBe("EGRESS_ROUTES_INVALID");
    });
  }
});

describe("matching", () => {
  it("matches exact hosts and one-or-more-label wildcards", () => {
    expect(hostMatches("api.anthropic.com", "API.anthropic.com")).toBe(true);
    expect(hostMatches("*.github.com", "api.github.com")).toBe(true);
    expect(hostMatches("*.github.com", "a.b.github.com")).toBe(true);
    expect(hostMatches("*.github.com", "github.com")).toBe(false);
    expect(hostMatches("*.github.com", "evilgithub.com")).toBe(false);
  });

  it("checks port, method and path, and says which one failed", () => {
    const routes = [anthropic, github];
    expect(matchRoute(routes, { host: "api.anthropic.com", port: 443, method: "POST", path: "/v1/messages" })).toMatchObject({ kind: "allow" });
    expect(matchRoute(routes, { host: "api.anthropic.com", port: 8443, method: "POST", path: "/v1/x" })).toMatchObject({ kind: "deny", reason: "host" });
    expect(matchRoute(routes, { host: "api.anthropic.com", port: 443, method: "GET", path: "/v1/x" })).toMatchObject({ kind: "deny", reason: "method" });
    expect(matchRoute(routes, { host: "api.anthropic.com", port: 443, method: "POST", path: "/admin" })).toMatchObject({ kind: "deny", reason: "path" });
    expect(matchRoute(routes, { host: "api.anthropic.com", port: 443, method: "POST", path: "/v1/%2e%2e/admin" })).toMatchObject({ kind: "deny" });
    expect(matchRoute(routes, { host: "example.com", port: 443, method: "GET", path: "/" })).toMatchObject({ kind: "deny", reason: "host" });
  });
});
