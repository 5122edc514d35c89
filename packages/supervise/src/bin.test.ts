import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { expect, it } from "vitest";
import { listRequests } from "./index.js";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

it("bin: serves MCP on the given port, files requests in --state, exits 0 on SIGTERM", async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm turbo run build --filter @bottle/supervise)`);
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port: p } = s.address() as { port: number };
      s.close(() => resolve(p));
    });
  });
  const root = await mkdtemp(join(tmpdir(), "bottle-supervise-bin-"));
  const state = join(root, "requests");
  const child = spawn(process.execPath, [BIN, "--state", state, "--listen", `127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    const client = new Client({ name: "bin-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
    const result = await client.callTool({ name: "ask_human", arguments: { question: "ready?" } });
    expect(result.isError).toBeFalsy();
    await client.close();
    expect((await listRequests(state)).map((r) => [r.kind, r.status])).toEqual([["question", "pending"]]);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await rm(root, { recursive: true, force: true });
  }
});
