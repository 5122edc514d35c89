import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BottleError } from "@bottle/errors";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRequest, decideRequest, listRequests, readRequest, routeFromApprovedRequest } from "./index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "bottle-supervise-store-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): Promise<string | undefined> {
  return Promise.resolve()
    .then(fn)
    .then(
      () => undefined,
      (error: unknown) => (BottleError.isInstance(error) ? error.code : `not a BottleError: ${String(error)}`),
    );
}

describe("request store", () => {
  it("writes one JSON file per request in the bundle-contract format, replaced on decision", async () => {
    const req = await createRequest(
      dir,
      { kind: "egress-route", request: { host: "a.example.com", methods: [], ports: [443], reason: "r" } },
      new Date("2026-01-02T03:04:05Z"),
    );
    expect(req).toEqual({
      id: req.id,
      status: "pending",
      createdAt: "2026-01-02T03:04:05.000Z",
      kind: "egress-route",
      request: { host: "a.example.com", methods: [], ports: [443], reason: "r" },
    });
    const before = await stat(join(dir, `${req.id}.json`));
    const decided = await decideRequest(dir, req.id, { approve: true }, new Date("2026-01-02T03:05:00Z"));
    expect(decided).toMatchObject({ status: "approved", decision: { at: "2026-01-02T03:05:00.000Z" } });
    expect(await readRequest(dir, req.id)).toEqual(decided);
    // Replaced by rename: a new inode, and no temporary file left behind.
    expect((await stat(join(dir, `${req.id}.json`))).ino).not.toBe(before.ino);
    expect(await readdir(dir)).toEqual([`${req.id}.json`]);
  });

  it("refuses unknown ids and second decisions with a BottleError and a hint", async () => {
    const req = await createRequest(dir, { kind: "question", request: { question: "q?" } });
    expect(await codeOf(() => decideRequest(dir, "req-12345678", { approve: true }))).toBe("SUPERVISE_REQUEST_UNKNOWN");
    expect(await codeOf(() => decideRequest(dir, "../x", { approve: true }))).toBe("SUPERVISE_REQUEST_UNKNOWN");
    await decideRequest(dir, req.id, { approve: false, reason: "no" });
    expect(await codeOf(() => decideRequest(dir, req.id, { approve: true }))).toBe("SUPERVISE_REQUEST_DECIDED");
    await decideRequest(dir, req.id, { approve: true }).catch((error: BottleError) => {
      expect(error.message).toContain(`Request ${req.id} was already denied`);
      expect(error.hint).toContain("new request");
    });
    expect((await readRequest(dir, req.id)).status).toBe("denied");
  });

  it("lists requests oldest first, skipping temporary and malformed files", async () => {
    const b = await createRequest(dir, { kind: "question", request: { question: "b" } }, new Date("2026-01-02T00:00:00Z"));
    const a = await createRequest(dir, { kind: "question", request: { question: "a" } }, new Date("2026-01-01T00:00:00Z"));
    await writeFile(join(dir, "req-0000000a.json"), "{ not json");
    await writeFile(join(dir, ".req-0000000b.json.1.tmp"), "{}");
    await writeFile(join(dir, "notes.txt"), "x");
    expect((await listRequests(dir)).map((r) => r.id)).toEqual([a.id, b.id]);
    expect(await codeOf(() => readRequest(dir, "req-0000000a"))).toBe("SUPERVISE_REQUEST_MALFORMED");
    expect(await listRequests(join(dir, "missing"))).toEqual([]);
  });

  it("turns only approved egress-route requests into routes", async () => {
    const route = await createRequest(dir, {
      kind: "egress-route",
      request: { host: "*.example.com", methods: ["GET"], ports: [443, 8443], reason: "r" },
    });
    expect(await codeOf(() => routeFromApprovedRequest(route))).toBe("SUPERVISE_NOT_APPROVED");
    const question = await createRequest(dir, { kind: "question", request: { question: "q" } });
    expect(await codeOf(() => routeFromApprovedRequest(question))).toBe("SUPERVISE_NOT_A_ROUTE");
    const approved = await decideRequest(dir, route.id, { approve: true });
    expect(routeFromApprovedRequest(approved)).toMatchObject({
      id: `approved-${route.id}`,
      host: "*.example.com",
      ports: [443, 8443],
      methods: ["GET"],
    });
  });
});
