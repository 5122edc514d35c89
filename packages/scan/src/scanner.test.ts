import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createKnownSecretMatcher, createScanner, formatFindings, KNOWN_SECRET_RULE } from "./index.js";

const TOKEN = "ghs_bottleTestToken0123456789abcdefXYZ";
const AWS_SECRET = 'aws_secret_access_key = "Tz8rJq3vXb9LmN2pQw7eRt5yUi1oPa4sDf6gHj0k"';
const PRIVATE_KEY = generateKeyPairSync("rsa", { modulusLength: 1024 })
  .privateKey.export({ type: "pkcs1", format: "pem" })
  .toString()
  .trimEnd();
const KEY_LINES = PRIVATE_KEY.split("\n").length;

describe("known secret matcher", () => {
  const matcher = createKnownSecretMatcher({ "git.app.token": TOKEN, short: "abc" });

  it("ignores values shorter than the minimum", () => {
    expect(matcher.size).toBe(1);
    expect(matcher.matchText("abc abc")).toEqual([]);
  });

  it.each([
    ["raw", `x ${TOKEN} y`],
    ["base64", `Authorization: Basic ${Buffer.from(`user:${TOKEN}`).toString("base64")}`],
    ["base64", Buffer.from(`${TOKEN}`).toString("base64")],
    ["base64", Buffer.from(`ab${TOKEN}cd`).toString("base64")],
    ["hex", Buffer.from(TOKEN).toString("hex").toUpperCase()],
  ])("finds the %s form", (encoding, text) => {
    const found = matcher.matchText(text);
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]).toMatchObject({ secretId: "git.app.token", encoding });
  });

  it("finds URL-encoded forms", () => {
    const m = createKnownSecretMatcher({ pw: "p@ss/word with+plus" });
    expect(m.matchText(`https://h/?pw=${encodeURIComponent("p@ss/word with+plus")}`)).toMatchObject([{ encoding: "url" }]);
    expect(m.matchText("pw=p%40ss%2Fword+with%2Bplus")).toMatchObject([{ encoding: "url" }]);
  });

  it("finds base64url forms of values whose base64 has + or /", () => {
    const value = "\u00ff\u00fe\u00fd secret value ~~~???";
    const m = createKnownSecretMatcher({ s: value });
    const url = Buffer.from(`x${value}`).toString("base64url");
    expect(m.matchText(url).map((f) => f.encoding)).toContain("base64url");
  });

  it("finds values in raw bytes", () => {
    const bytes = Buffer.concat([Buffer.from([0, 1, 2, 255]), Buffer.from(TOKEN), Buffer.from([0])]);
    expect(matcher.matchBytes(bytes)).toEqual([{ secretId: "git.app.token", encoding: "raw", index: 4 }]);
  });
});

describe("createScanner", () => {
  const scanner = createScanner({ knownSecrets: { "git.app.token": TOKEN } });

  it("reports secretlint findings with file, line, rule and a masked message", async () => {
    const findings = await scanner.scanText(`const a = 1;\n${AWS_SECRET}\n`, { path: "src/a.ts" });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ rule: "@secretlint/secretlint-rule-aws", path: "src/a.ts", line: 2, column: 1 });
    expect(findings[0]!.message).not.toContain("Tz8rJq3v");
  });

  it("reports known secrets by id without the value", async () => {
    const findings = await scanner.scanText(`one\ntwo ${TOKEN}\n`, { path: "notes.md" });
    expect(findings).toEqual([
      {
        rule: KNOWN_SECRET_RULE,
        message: 'contains the value of secret "git.app.token"',
        path: "notes.md",
        line: 2,
        column: 5,
        secretId: "git.app.token",
      },
    ]);
    expect(formatFindings(findings)).not.toContain(TOKEN);
  });

  it("maps lines of added-line chunks and of batched texts back to each file", async () => {
    const batch = scanner.batch();
    const found = [
      ...(await batch.add({ path: "clean.txt", text: "nothing\nhere" })),
      ...(await batch.add({ path: "key.pem", text: PRIVATE_KEY, lines: Array.from({ length: KEY_LINES }, (_, i) => 101 + i), commit: "c1" })),
      ...(await batch.add({ path: "b.txt", text: `a\nb\n  ${TOKEN}` })),
    ];
    found.push(...(await batch.flush()));
    expect(found.map((f) => [f.path, f.line, f.column, f.rule, f.commit])).toEqual([
      ["key.pem", 101, 1, "@secretlint/secretlint-rule-privatekey", "c1"],
      ["b.txt", 3, 3, KNOWN_SECRET_RULE, undefined],
    ]);
    expect(found[0]!.message.length).toBeLessThan(80);
  });

  it("cannot be switched off by a secretlint-disable comment in the scanned content", async () => {
    const findings = await scanner.scanText(`// secretlint-disable\n${AWS_SECRET}\n`, { path: "a.js" });
    expect(findings.map((f) => f.rule)).toEqual(["@secretlint/secretlint-rule-aws"]);
  });

  it("checks binary content for known secret values only", async () => {
    const binary = Buffer.concat([Buffer.from([0, 0, 0]), Buffer.from(AWS_SECRET), Buffer.from(TOKEN)]);
    const findings = await scanner.scanBuffer(binary, { path: "blob.bin" });
    expect(findings.map((f) => f.rule)).toEqual([KNOWN_SECRET_RULE]);
    const text = await scanner.scanBuffer(Buffer.from(AWS_SECRET), { path: "a.env" });
    expect(text.map((f) => f.rule)).toEqual(["@secretlint/secretlint-rule-aws"]);
  });

  it("is clean on ordinary code", async () => {
    expect(await scanner.scanText("export const answer = 42;\n// TODO: token rotation\n", { path: "x.ts" })).toEqual([]);
  });
});

describe("no drift over many scans", () => {
  it("retains no performance entries per secretlint run, so the 2,000th scan costs what the first did", async () => {
    const scanner = createScanner();
    const before = performance.getEntries().length;
    for (let i = 0; i < 2000; i++) {
      await scanner.scanText(`line ${i}\nnothing to see ${"x".repeat(64)}\n`, { path: `f${i}.txt` });
    }
    // secretlint's profiler would have left 60 marks per run (120,000 here) in the process timeline.
    expect(performance.getEntries().length - before).toBe(0);
    const last = await scanner.scanText(AWS_SECRET, { path: "last.env" });
    expect(last.map((f) => f.rule)).toEqual(["@secretlint/secretlint-rule-aws"]);
  });
});
