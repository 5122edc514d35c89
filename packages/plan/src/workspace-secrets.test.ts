import { BottleError } from "@bottle/errors";
import { parseManifest } from "@bottle/manifest";
import { describe, expect, it } from "vitest";
import { resolvePlan, tarExcludes } from "./index.js";

const manifestPath = "/home/dev/project/bottle.json";
const manifest = (mode: "copy" | "mount", file: string) =>
  parseManifest(
    JSON.stringify({
      bottles: {
        b: {
          workspace: { path: ".", mode },
          egress: { routes: [{ host: "api.example.com", inject: { "x-api-key": { file } } }] },
          git: { upstreams: [{ name: "app", url: "https://git.example.com/a.git", credential: { file: "keys/git token" } }] },
        },
      },
    }),
  );

describe("secret files inside the workspace", () => {
  it("are left out of a copied workspace (every secret kind), files outside are not listed", () => {
    const plan = resolvePlan(manifest("copy", "./.secrets/token"), "b", { manifestPath });
    expect(plan.agent.workspace?.exclude).toEqual([".secrets/token", "keys/git token"]);
    const outside = resolvePlan(manifest("copy", "/etc/bottle-token"), "b", { manifestPath, workspace: "/home/dev/project/sub" });
    expect(outside.agent.workspace?.exclude).toBeUndefined();
  });

  it("refuse a mounted workspace", () => {
    const refused = (() => {
      try {
        resolvePlan(manifest("mount", "./.secrets/token"), "b", { manifestPath });
      } catch (e) {
        return e;
      }
    })();
    expect(BottleError.isInstance(refused)).toBe(true);
    expect(refused).toMatchObject({ code: "PLAN_SECRET_IN_WORKSPACE" });
    expect((refused as Error).message).toContain(".secrets/token");
  });

  it("become tar exclude patterns with glob characters escaped", () => {
    expect(tarExcludes(["a/b*c", ".secrets/token", "x[1]?"])).toEqual(["./.secrets/token", "./a/b\\*c", "./x\\[1]\\?"]);
  });
});
