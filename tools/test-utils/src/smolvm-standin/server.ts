import net from "node:net";
import { runSmolvmStandin } from "./standin.js";

/**
 * Serves stand-in invocations from the test process, so each `smolvm-standin` call is a
 * tiny node script that forwards argv over a unix socket instead of loading this package.
 * Protocol: one JSON line `{argv, cwd, env}` in; JSON lines `{o}`/`{e}` (base64) and a
 * final `{exit}` out.
 */
export function startStandinServer(socketPath: string, env: NodeJS.ProcessEnv): Promise<net.Server> {
  const server = net.createServer((socket) => {
    let buffer = "";
    let started = false;
    socket.on("data", (chunk: Buffer) => {
      if (started) return;
      buffer += chunk.toString("utf8");
      const nl = buffer.indexOf("\n");
      if (nl < 0) return;
      started = true;
      const request = JSON.parse(buffer.slice(0, nl)) as { argv: string[]; env?: Record<string, string> };
      const send = (frame: object) => socket.write(`${JSON.stringify(frame)}\n`);
      runSmolvmStandin(request.argv, { ...env, ...request.env }, {
        out: (t) => send({ o: Buffer.from(t).toString("base64") }),
        err: (t) => send({ e: Buffer.from(t).toString("base64") }),
      }).then(
        (exit) => socket.end(`${JSON.stringify({ exit })}\n`),
        (error: unknown) => {
          send({ e: Buffer.from(`stand-in crashed: ${(error as Error).stack ?? String(error)}\n`).toString("base64") });
          socket.end(`${JSON.stringify({ exit: 70 })}\n`);
        },
      );
    });
    socket.on("error", () => {});
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.unref();
      resolve(server);
    });
  });
}

/** Source of the `smolvm-standin` executable: forwards to the socket, or runs the module itself. */
export function launcherScript(o: { socket: string; moduleUrl: string; defaults: Record<string, string> }): string {
  return `#!/usr/bin/env node
// smolvm-standin: a docker-backed stand-in for the smolvm CLI (tests only)
import net from "node:net";
${Object.entries(o.defaults)
  .map(([k, v]) => `process.env.${k} ??= ${JSON.stringify(v)};`)
  .join("\n")}
const argv = process.argv.slice(2);
const dashdash = argv.indexOf("--");
const opts = dashdash < 0 ? argv : argv.slice(0, dashdash);
const interactive = argv[1] === "exec" && opts.some((a) => /^-(i|t|it|ti)$|^--(interactive|tty)$/.test(a));
async function local() {
  const { runSmolvmStandin } = await import(${JSON.stringify(o.moduleUrl)});
  process.exitCode = await runSmolvmStandin(argv);
}
if (interactive) await local();
else {
  let connected = false;
  const socket = net.connect(${JSON.stringify(o.socket)});
  socket.on("connect", () => {
    connected = true;
    const env = {};
    if (process.env.SMOLVM_STANDIN_SIMULATE) env.SMOLVM_STANDIN_SIMULATE = process.env.SMOLVM_STANDIN_SIMULATE;
    socket.write(JSON.stringify({ argv, env }) + "\\n");
  });
  let buffer = "";
  socket.on("data", (chunk) => {
    buffer += chunk.toString("utf8");
    let nl;
    while ((nl = buffer.indexOf("\\n")) >= 0) {
      const frame = JSON.parse(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      if (frame.o !== undefined) process.stdout.write(Buffer.from(frame.o, "base64"));
      if (frame.e !== undefined) process.stderr.write(Buffer.from(frame.e, "base64"));
      if (frame.exit !== undefined) process.exitCode = frame.exit;
    }
  });
  socket.on("error", (error) => {
    if (!connected) local();
    else {
      process.stderr.write("smolvm-standin: lost the stand-in server: " + error.message + "\\n");
      process.exitCode = 70;
    }
  });
}
`;
}
