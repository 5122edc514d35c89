import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createLeakCheck } from "./leak-cache.js";
import { createLeakDetector } from "./leaks.js";
import { claudeBody, filler } from "./__fixtures__/conversation.js";

const SECRETS = {
  "anthropic.key": "sk-ant-api03-Zx9/Q+w=k&y%t~ real9",
  "gh.token": "ghp_R3alT0kenValueX9aZ8bY7cW6dV5eU4fT3",
  short: "p4ss",
  uni: "pässwörd-ünïcode",
  // Contains the chunk cut markers: a raw occurrence is cut in two, only the joined edges find it.
  "gcp.key": '{"type":"service_account","private_key_id":"0123456789abcdef",{"role":"x"}}',
};
const detector = createLeakDetector(SECRETS);
const reference = (body: Buffer) => detector.findInDecoded(body, body.toString("utf8")).sort();

/** Ways an agent could write a value into a JSON body (the receiver's views undo each). */
const ENCODINGS: Array<(v: string) => string> = [
  (v) => v,
  (v) => Buffer.from(v).toString("base64"),
  (v) => Buffer.from(`xy${v}`).toString("base64"),
  (v) => Buffer.from(v).toString("hex").toUpperCase(),
  (v) => encodeURIComponent(v),
  (v) => [...Buffer.from(v)].map((b) => "%" + b.toString(16).padStart(2, "0")).join(""),
  (v) => [...v].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join(""),
  (v) => [...v].join(" \n "),
  (v) => [...Buffer.from(v).toString("base64")].join("\n"),
  (v) => encodeURIComponent(encodeURIComponent(v)),
];

describe("leak check over views, chunked and cached", () => {
  it("finds exactly what the detector finds, with and without a warm cache (property)", () => {
    const piece = fc.record({
      seed: fc.nat(1000),
      size: fc.nat(600),
      secret: fc.option(fc.record({ id: fc.constantFrom(...Object.keys(SECRETS)), enc: fc.nat(ENCODINGS.length - 1), at: fc.double({ min: 0, max: 1, noNaN: true }), pad: fc.nat(3000) }), { freq: 2 }),
    });
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 8 }), fc.oneof(fc.integer({ min: 16, max: 96 }), fc.integer({ min: 16, max: 2048 })), fc.boolean(), (spec, minChunk, asJson) => {
        const check = createLeakCheck(SECRETS, { minChunk });
        const results: string[] = [];
        for (const p of spec) {
          let text = filler(p.seed, p.size);
          if (p.secret) {
            const at = Math.floor(p.secret.at * text.length);
            // Whitespace padding stretches an encoded value across what may become a cut.
            const value = ENCODINGS[p.secret.enc]!(SECRETS[p.secret.id as keyof typeof SECRETS]);
            text = `${text.slice(0, at)}${" ".repeat(p.secret.pad)}${value}${text.slice(at)}`;
          }
          results.push(text);
        }
        for (let n = 1; n <= results.length; n++) {
          // A Messages API body, or plain text where values (and the cut markers in them) are raw.
          const body = Buffer.from(asJson ? claudeBody(results.slice(0, n).map((toolResult) => ({ toolResult })), true) : results.slice(0, n).join('{"type":"t"}'));
          expect(check.find(body).sort()).toEqual(reference(body));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("finds a value split by a cut when a view removes what lies between", () => {
    // The first half ends one content block, the second starts the next; in the JSON-unescaped,
    // whitespace-free view only `"},{"type":"text","text":"` separates them, so no secret — but
    // hex split with whitespace inside one block spans a cut only through whitespace.
    const hex = Buffer.from(SECRETS["gh.token"]).toString("hex");
    const body = Buffer.from(`{"a":"${hex.slice(0, 20)}${" ".repeat(5000)}${hex.slice(20)}","b":[{"type":"x"}]}`);
    const check = createLeakCheck(SECRETS, { minChunk: 16 });
    expect(check.find(body)).toEqual(reference(body));
    expect(check.find(body)).toEqual(["gh.token"]);
  });

  it("finds a value that contains the cut markers and so is cut in two", () => {
    const body = Buffer.from(`${filler(3, 200)} ${SECRETS["gcp.key"]} ${filler(4, 200)}`);
    const check = createLeakCheck(SECRETS, { minChunk: 16 });
    expect(reference(body)).toEqual(["gcp.key"]);
    expect(check.find(body)).toEqual(["gcp.key"]);
  });

  it("checks a resent conversation's old chunks from the cache", () => {
    const check = createLeakCheck(SECRETS);
    const turns = Array.from({ length: 30 }, (_, i) => ({ toolResult: filler(i, 30_000) }));
    let sent = 0;
    for (let n = 1; n <= turns.length; n++) {
      const body = Buffer.from(claudeBody(turns.slice(0, n)));
      sent += body.length;
      expect(check.find(body)).toEqual([]);
    }
    expect(check.stats().charsChecked).toBeLessThan(sent / 4);
  });
});
