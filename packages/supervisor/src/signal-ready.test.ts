import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { catchesSignal } from "./signal-ready.js";

describe("catchesSignal", () => {
  it("reads whether a process has a handler for a signal from /proc", async () => {
    const child = spawn(process.execPath, ["-e", 'console.log("up"); setTimeout(() => { process.on("SIGHUP", () => {}); console.log("handled"); }, 300); setInterval(() => {}, 1000);']);
    try {
      const out: string[] = [];
      child.stdout.on("data", (d: Buffer) => out.push(String(d)));
      while (!out.join("").includes("up")) await once(child.stdout, "data");
      expect(catchesSignal(child.pid!, "SIGHUP")).toBe(false);
      while (!out.join("").includes("handled")) await once(child.stdout, "data");
      expect(catchesSignal(child.pid!, "SIGHUP")).toBe(true);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("cannot tell for a process that does not exist", () => {
    expect(catchesSignal(2 ** 22 + 12345, "SIGHUP")).toBeUndefined();
  });
});
