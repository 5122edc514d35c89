import { describe, expect, it } from "vitest";
import { createLeakDetector } from "./leaks.js";

const SECRET = "s3cr3t/Value+with=odd&chars";

describe("createLeakDetector", () => {
  const detector = createLeakDetector({ one: SECRET, short: "abc" });
  const raw = Buffer.from(SECRET);

  it("finds every encoding, alone and embedded at any byte alignment", () => {
    const forms = [
      SECRET,
      raw.toString("base64"),
      raw.toString("base64url"),
      raw.toString("hex"),
      raw.toString("hex").toUpperCase(),
      encodeURIComponent(SECRET),
      [...raw].map((b) => "%" + b.toString(16)).join(""),
    ];
    for (const form of forms) {
      expect(detector.findInText(`prefix ${form} suffix`)).toEqual(["one"]);
      expect(detector.findInBuffer(Buffer.from(`{"x":"${form}"}`))).toEqual(["one"]);
    }
    for (const pad of ["", "a", "ab", "abc"]) {
      for (const encoding of ["base64", "base64url"] as const) {
        const embedded = Buffer.from(`${pad}${SECRET}tail`).toString(encoding);
        expect(detector.findInText(embedded)).toEqual(["one"]);
      }
    }
  });

  it("redacts every form for audit lines", () => {
    expect(detector.redact(`/a/${encodeURIComponent(SECRET)}/b/${raw.toString("hex")}`)).toBe("/a/[secret:one]/b/[secret:one]");
  });

  it("does not match unrelated text, and matches short secrets raw only", () => {
    expect(detector.findInText("nothing to see here")).toEqual([]);
    expect(detector.findInText(Buffer.from("abc").toString("hex"))).toEqual([]);
    expect(detector.findInText("xabcx")).toEqual(["short"]);
  });
});
