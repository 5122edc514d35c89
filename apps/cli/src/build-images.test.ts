import { afterEach, describe, expect, it } from "vitest";
import { chooseBase } from "./build-images.js";

const none = async () => undefined;
const offlineImages = async () => ({ kind: "offline" as const });

describe("chooseBase", () => {
  afterEach(() => {
    delete process.env.BOTTLE_OFFLINE_BASE;
  });

  it("defaults to a Node image from the registry", async () => {
    expect(await chooseBase({}, offlineImages, "node:22-bookworm-slim")).toEqual({ kind: "registry", image: "node:22-bookworm-slim" });
  });

  it("flags win, then BOTTLE_OFFLINE_BASE, then (for start) what the images were built on", async () => {
    expect(await chooseBase({ offlineBase: true }, none, "n")).toEqual({ kind: "offline" });
    expect(await chooseBase({ baseImage: "mirror/node:22" }, offlineImages, "n")).toEqual({ kind: "registry", image: "mirror/node:22" });
    expect(await chooseBase({ keepExistingBase: true }, offlineImages, "n")).toEqual({ kind: "offline" });
    expect(await chooseBase({ keepExistingBase: true }, none, "n")).toEqual({ kind: "registry", image: "n" });
    process.env.BOTTLE_OFFLINE_BASE = "1";
    expect(await chooseBase({}, none, "n")).toEqual({ kind: "offline" });
    expect(await chooseBase({ baseImage: "x" }, none, "n")).toEqual({ kind: "registry", image: "x" });
  });
});
