import { generateKeyPairSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkCuts, createChunkedScanner, DEFAULT_CHUNKING, type BodyFinding } from "./scan-cache.js";
import { scanForSecrets } from "./scan.js";
import { claudeBody, filler, growingSession, type Turn } from "./__fixtures__/conversation.js";

const PEM = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
/** Credential shapes the recommended rules find, each well under the test's overlap. */
const SECRETS = [
  "aws_secret_access_key = Zq8vT2mK9xR4pL7wN3bH6jC1fY5sD0gA8eU2iO4t",
  "ghp_R3alT0kenValueX9aZ8bY7cW6dV5eU4fT3xy",
  "xoxb-123456789012-1234567890123-abcdefghijABCDEFGHIJabcd",
  "https://admin:pa55w0rdX@example.com/x",
  "postgres://admin:S3cretPassw0rd@db.example.com:5432/app",
  "npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
  PEM,
];

/** Whole-body secretlint findings, in bytes (the reference the chunked scan must reproduce). */
async function wholeBody(body: Buffer): Promise<BodyFinding[]> {
  const text = body.toString("utf8");
  return (await scanForSecrets(text)).map((f) => ({
    ruleId: f.ruleId,
    messageId: f.messageId,
    start: Buffer.byteLength(text.slice(0, f.start)),
    end: Buffer.byteLength(text.slice(0, f.end)),
  }));
}

const key = (f: BodyFinding) => `${f.ruleId}@${f.start}-${f.end}`;
const keys = (fs: BodyFinding[]) => fs.map(key).sort();

describe("chunk cuts", () => {
  it("cuts at JSON object starts at least minChunk apart, and inside long stretches at maxChunk", () => {
    const body = Buffer.from(`${"a".repeat(100)}{"type":1}${"b".repeat(10)}{"role":2}${"c".repeat(300)}{"type":3}`);
    expect(chunkCuts(body, body.length, { minChunk: 50, maxChunk: 1000 })).toEqual([0, 100, 430]);
    const long = Buffer.from("é".repeat(500)); // 2 bytes per character
    const cuts = chunkCuts(long, long.length, { minChunk: 10, maxChunk: 101 });
    expect(cuts.length).toBeGreaterThan(5);
    for (const c of cuts) expect(long[c]! & 0xc0).not.toBe(0x80); // never inside a character
  });

  it("gives a resent conversation the same cuts up to where it changed", () => {
    const turns = growingSession(20, 200 * 1024);
    const before = Buffer.from(claudeBody(turns.slice(0, 10)));
    const after = Buffer.from(claudeBody(turns.slice(0, 11)));
    const a = chunkCuts(before, before.length, DEFAULT_CHUNKING);
    const b = chunkCuts(after, after.length, DEFAULT_CHUNKING);
    const changedAt = [...before].findIndex((byte, i) => byte !== after[i]);
    const stable = a.filter((c) => c < changedAt - DEFAULT_CHUNKING.maxChunk);
    expect(stable.length).toBeGreaterThan(1);
    expect(b.slice(0, stable.length)).toEqual(stable);
  });
});

describe("chunked, cached scan", () => {
  it("finds the same as one whole-body scan, and the cache changes nothing (property)", async () => {
    const turn = fc.record({
      seed: fc.nat(10_000),
      size: fc.nat(3000),
      secret: fc.option(fc.record({ which: fc.nat(SECRETS.length - 1), at: fc.double({ min: 0, max: 1, noNaN: true }) }), { freq: 2 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(turn, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 32, max: 2048 }),
        fc.integer({ min: 2, max: 8 }),
        async (spec, minChunk, factor) => {
          const chunking = { minChunk, maxChunk: minChunk * factor, leftContext: 512, rightOverlap: 2048 };
          const cached = createChunkedScanner({ chunking });
          const uncached = createChunkedScanner({ chunking, cache: false });
          const turns: Turn[] = spec.map((t) => {
            const text = filler(t.seed, t.size);
            if (!t.secret) return { toolResult: text };
            const at = Math.floor(t.secret.at * text.length);
            return { toolResult: `${text.slice(0, at)} ${SECRETS[t.secret.which]} ${text.slice(at)}` };
          });
          // The session as Claude Code sends it: every turn resends all before it.
          for (let n = 1; n <= turns.length; n++) {
            const body = Buffer.from(claudeBody(turns.slice(0, n), true));
            const withCache = await cached.scan(body, body.length);
            const without = await uncached.scan(body, body.length);
            expect(withCache).toEqual(without);
            expect(keys(withCache)).toEqual(keys(await wholeBody(body)));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("finds a secret that straddles a cut, whichever chunk it starts in", async () => {
    const secret = SECRETS[1]!;
    for (let shift = -secret.length; shift <= 1; shift += 7) {
      const pad = 4096 + shift;
      const body = Buffer.from(`${"x ".repeat(pad / 2)}${pad % 2 ? "y" : ""} ${secret} {"type":"text","text":"${"z ".repeat(3000)}"}`);
      const scanner = createChunkedScanner({ chunking: { minChunk: 1024, maxChunk: 4096, leftContext: 64, rightOverlap: 512 } });
      expect(keys(await scanner.scan(body, body.length))).toEqual(keys(await wholeBody(body)));
    }
  });

  it("scans a 50-turn session growing to 1 MiB for little more than one scan of 1 MiB", async () => {
    const turns = growingSession(50, 1024 * 1024);
    const cached = createChunkedScanner();
    const perTurn: number[] = [];
    let finalSize = 0;
    let sent = 0;
    for (let n = 1; n <= turns.length; n++) {
      const body = Buffer.from(claudeBody(turns.slice(0, n)));
      finalSize = body.length;
      sent += body.length;
      const before = cached.stats().bytesScanned;
      await cached.scan(body, 8 * 1024 * 1024);
      perTurn.push(cached.stats().bytesScanned - before);
    }
    const total = perTurn.reduce((a, b) => a + b, 0);
    // Each turn repeats the last one up to its new part: those windows are compared, not hashed
    // again; only the changed part and what follows it (system prompt, tools) is hashed.
    expect(cached.stats().bytesHashed).toBeLessThan(sent / 3);
    // Without the cache: the sum of all 50 bodies, ~25 MiB.
    expect(total).toBeLessThan(finalSize * 1.6 + 50 * 2 * (DEFAULT_CHUNKING.maxChunk + DEFAULT_CHUNKING.rightOverlap));
    // Work per turn does not grow with the conversation: the last turns cost what the early ones did.
    const late = Math.max(...perTurn.slice(40));
    expect(late).toBeLessThan(3 * (DEFAULT_CHUNKING.maxChunk + DEFAULT_CHUNKING.rightOverlap));
    expect(finalSize).toBeGreaterThan(900 * 1024);
  });

  it("stays within its entry bound", async () => {
    const scanner = createChunkedScanner({ cacheEntries: 8, chunking: { minChunk: 16, maxChunk: 64 } });
    for (let i = 0; i < 20; i++) await scanner.scan(Buffer.from(filler(i, 2000)), 1 << 20);
    expect(scanner.stats().entries).toBe(8);
  });
});
