import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BottleError } from "@bottle/errors";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRequest, decideRequest, describeRequest, readRequest, revokeRequest, routeFromApprovedRequest } from "./index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "bottle-supervise-narrow-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ask = (methods: string[]) => createRequest(dir, { kind: "egress-route", request: { host: "api.example.com", methods, ports: [443], reason: "docs" } });

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (error: unknown) => (BottleError.isInstance(error) ? error.code : `not a BottleError: ${String(error)}`),
  );
}

describe("approving with narrowing", () => {
  it("gives the agent exactly the narrowed methods and path prefixes, and says so", async () => {
    const req = await ask(["GET", "POST"]);
    const decided = await decideRequest(dir, req.id, { approve: true, by: "alice (ui)", narrow: { methods: ["get"], paths: ["/v1/", "/v1/"] } });
    expect(decided.decision).toMatchObject({ by: "alice (ui)", methods: ["GET"], paths: ["/v1/"] });
    const route = routeFromApprovedRequest(decided);
    expect(route).toMatchObject({ id: `approved-${req.id}`, methods: ["GET"], paths: ["/v1/"] });
    expect(describeRequest(decided)).toContain("approved, narrowed: api.example.com is allowed for GET under /v1/ only");
    // the file on disk carries the same (what the CLI and the dashboard read back)
    expect((await readRequest(dir, req.id)).decision?.methods).toEqual(["GET"]);
  });

  it("keeps the request as asked when nothing is narrowed", async () => {
    const req = await ask(["GET", "POST"]);
    const route = routeFromApprovedRequest(await decideRequest(dir, req.id, { approve: true, narrow: {} }));
    expect(route).toMatchObject({ methods: ["GET", "POST"], paths: [] });
  });

  it("refuses to widen: a method not asked for, a non-method, a path that is not a prefix", async () => {
    const req = await ask(["GET"]);
    expect(await codeOf(decideRequest(dir, req.id, { approve: true, narrow: { methods: ["POST"] } }))).toBe("SUPERVISE_BAD_NARROWING");
    expect(await codeOf(decideRequest(dir, req.id, { approve: true, narrow: { methods: ["FETCH"] } }))).toBe("SUPERVISE_BAD_NARROWING");
    expect(await codeOf(decideRequest(dir, req.id, { approve: true, narrow: { paths: ["v1"] } }))).toBe("SUPERVISE_BAD_NARROWING");
    expect(await codeOf(decideRequest(dir, req.id, { approve: true, narrow: { paths: ["/a?b=1"] } }))).toBe("SUPERVISE_BAD_NARROWING");
    expect((await readRequest(dir, req.id)).status).toBe("pending");
  });

  it("lets any method be chosen when the agent asked for any", async () => {
    const req = await ask([]);
    const decided = await decideRequest(dir, req.id, { approve: true, narrow: { methods: ["DELETE"] } });
    expect(routeFromApprovedRequest(decided).methods).toEqual(["DELETE"]);
  });
});

describe("revoking an approved route", () => {
  it("records who, when and why; the agent reads that it is blocked again", async () => {
    const req = await ask(["GET"]);
    await decideRequest(dir, req.id, { approve: true });
    const revoked = await revokeRequest(dir, req.id, { by: "bob (cli)", reason: "done with it" }, new Date("2026-01-01T00:00:00Z"));
    expect(revoked.revoked).toEqual({ at: "2026-01-01T00:00:00.000Z", by: "bob (cli)", reason: "done with it" });
    expect(describeRequest(revoked)).toMatch(/revoked by the human at 2026-01-01T00:00:00.000Z: it is blocked again. Note from the human: done with it/);
  });

  it("refuses pending, denied, question and already revoked requests", async () => {
    const pending = await ask(["GET"]);
    expect(await codeOf(revokeRequest(dir, pending.id))).toBe("SUPERVISE_NOT_REVOCABLE");
    const denied = await ask(["GET"]);
    await decideRequest(dir, denied.id, { approve: false });
    expect(await codeOf(revokeRequest(dir, denied.id))).toBe("SUPERVISE_NOT_REVOCABLE");
    const question = await createRequest(dir, { kind: "question", request: { question: "q?" } });
    await decideRequest(dir, question.id, { approve: true, answer: "a" });
    expect(await codeOf(revokeRequest(dir, question.id))).toBe("SUPERVISE_NOT_REVOCABLE");
    const once = await ask(["GET"]);
    await decideRequest(dir, once.id, { approve: true });
    await revokeRequest(dir, once.id);
    expect(await codeOf(revokeRequest(dir, once.id))).toBe("SUPERVISE_NOT_REVOCABLE");
  });
});
