import { describe, expect, it } from "vitest";
import { BottleError, formatBottleError } from "./index.js";

describe("BottleError", () => {
  it("is recognised by marker, not by prototype", () => {
    const real = new BottleError("bad", { code: "X", hint: "fix it" });
    const lookalike = Object.assign(Object.create(null), { [Symbol.for("bottle.error")]: true });
    expect(BottleError.isInstance(real)).toBe(true);
    expect(BottleError.isInstance(lookalike)).toBe(true);
    expect(BottleError.isInstance(new Error("bad"))).toBe(false);
    expect(BottleError.isInstance(null)).toBe(false);
  });

  it("formats message and hint", () => {
    expect(formatBottleError(new BottleError("no engine", { code: "E", hint: "start dockerd" }))).toBe(
      "no engine\nhint: start dockerd",
    );
    expect(formatBottleError(new BottleError("plain", { code: "E" }))).toBe("plain");
  });
});
