// Claude-shaped cells for the egress benchmark: POST /v1/messages with a conversation body that
// Claude Code resends whole every turn, answered by a streamed SSE message of 40 events.
// Measured per target: time to first event (TTFE), total time, proxy CPU per request, RSS.
import https from "node:https";
import { readFileSync } from "node:fs";

const WORDS = "the of and to in is that for it as with was on be by this are from or have an at not but what all were when we there can".split(" ");

/** Deterministic filler text, `bytes` long. */
export function filler(seed, bytes) {
  let x = seed >>> 0 || 1;
  const parts = [];
  let n = 0;
  while (n < bytes) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const w = WORDS[x % WORDS.length] + ((x & 0x300) === 0 ? "\n" : " ");
    parts.push(w);
    n += w.length;
  }
  return parts.join("").slice(0, bytes);
}

const SYSTEM = filler(7, 12 * 1024);
const TOOLS = Array.from({ length: 16 }, (_, i) => ({
  name: `Tool${i}`,
  description: filler(100 + i, 1500),
  input_schema: { type: "object", properties: { path: { type: "string", description: filler(200 + i, 120) }, limit: { type: "number" } }, required: ["path"] },
}));

/** A Messages API body as Claude Code sends it: system, tools, every turn so far, cache_control on the newest block. */
export function claudeBody(toolResults, small = false) {
  const messages = [{ role: "user", content: [{ type: "text", text: "Please work on the task in /workspace." }] }];
  toolResults.forEach((text, i) => {
    messages.push({ role: "assistant", content: [{ type: "tool_use", id: `toolu_${i}`, name: "Tool1", input: { path: `/workspace/file${i}.txt` } }] });
    messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: `toolu_${i}`, content: text }] });
  });
  const last = messages.at(-1).content;
  last[last.length - 1].cache_control = { type: "ephemeral" };
  return JSON.stringify({
    model: "claude-sonnet-4-5",
    messages,
    system: [{ type: "text", text: small ? SYSTEM.slice(0, 2048) : SYSTEM, cache_control: { type: "ephemeral" } }],
    tools: small ? TOOLS.slice(0, 2) : TOOLS,
    metadata: { user_id: "user_0123456789abcdef" },
    max_tokens: 32000,
    stream: true,
  });
}

/**
 * Body of about `bytes`: a history of `historyTurns` tool results (the same for one
 * conversation, `conversation` seeds it) plus one new 2 KiB tool result (`turn` seeds it).
 */
export function conversationOfSize(bytes, conversation, turn, historyTurns = 12) {
  const small = bytes < 64 * 1024;
  const base = Buffer.byteLength(claudeBody([], small));
  const per = Math.max(64, Math.floor((bytes - base - 2048) / historyTurns) - 200);
  const history = Array.from({ length: historyTurns }, (_, i) => filler(conversation * 1000 + i, per));
  return Buffer.from(claudeBody([...history, `turn ${turn}: ${filler(1e6 + conversation * 1e5 + turn, 2048)}`], small));
}

/** Tool results of a session whose body reaches about `totalBytes` after `count` turns. */
export function growingSession(count, totalBytes, seed = 1) {
  const base = Buffer.byteLength(claudeBody([]));
  const per = Math.max(64, Math.floor((totalBytes - base) / count) - 200);
  return Array.from({ length: count }, (_, i) => filler(seed * 1000 + i, per));
}

/** One POST; resolves with time to first SSE event and total time (ms). */
export function postMessages(agent, port, body) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttfe = NaN;
    let buf = "";
    let events = 0;
    const req = https.request(
      { host: "127.0.0.1", port, method: "POST", path: "/v1/messages", agent, headers: { "content-type": "application/json", "content-length": body.length, "x-api-key": "placeholder" } },
      (res) => {
        res.setEncoding("utf8");
        res.on("data", (c) => {
          if (Number.isNaN(ttfe)) {
            buf += c;
            if (buf.includes("\n\n")) ttfe = performance.now() - t0;
          }
          for (let i = c.indexOf("\n\n"); i !== -1; i = c.indexOf("\n\n", i + 2)) events++;
        });
        res.on("end", () => {
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
          resolve({ ttfe, total: performance.now() - t0, events, saw: res.headers["x-saw-key"] });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

export function quantile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid) {
  if (!pid) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

export function rssMiB(pid, field = "VmRSS") {
  if (!pid) return NaN;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Runs `perWorker` requests on each of `concurrency` workers; worker w sends bodies(w, i).
 * Returns latency quantiles and the proxy's CPU per request.
 */
export async function runPostCell(target, port, { concurrency, perWorker, warmup, bodies }) {
  const agent = target.agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  // Warm-up: connections, TLS, and (for egress) the conversation history in the scan cache.
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    for (let i = 0; i < warmup; i++) await postMessages(agent, port, bodies(w, -1 - i));
  }));
  const ttfe = [];
  const total = [];
  let saw = true;
  let events = 0;
  const cpu0 = cpuSeconds(target.pid);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    for (let i = 0; i < perWorker; i++) {
      const r = await postMessages(agent, port, bodies(w, i));
      ttfe.push(r.ttfe);
      total.push(r.total);
      saw &&= r.saw === "1";
      events += r.events;
    }
  }));
  const wall = performance.now() - t0;
  const cpu = cpuSeconds(target.pid) - cpu0;
  agent.destroy();
  const n = ttfe.length;
  return {
    n,
    ttfeP50: quantile(ttfe, 0.5),
    ttfeP95: quantile(ttfe, 0.95),
    totalP50: quantile(total, 0.5),
    totalP95: quantile(total, 0.95),
    rps: (n / wall) * 1000,
    cpuMsPerReq: (cpu * 1000) / n,
    rss: rssMiB(target.pid),
    injected: saw,
    eventsPerReq: events / n,
  };
}

/** A session growing turn by turn to ~`totalBytes`; per-turn TTFE and the proxy's total CPU. */
export async function runSessionCell(target, port, { turns, totalBytes, seed }) {
  const results = growingSession(turns, totalBytes, seed);
  const agent = target.agent({ keepAlive: true, maxSockets: 1 });
  await postMessages(agent, port, Buffer.from(claudeBody(results.slice(0, 1).map((t) => `warm-up ${t}`)))); // connection + TLS
  const ttfe = [];
  let sent = 0;
  const cpu0 = cpuSeconds(target.pid);
  for (let n = 1; n <= turns; n++) {
    const body = Buffer.from(claudeBody(results.slice(0, n)));
    sent += body.length;
    ttfe.push((await postMessages(agent, port, body)).ttfe);
  }
  const cpu = cpuSeconds(target.pid) - cpu0;
  agent.destroy();
  return { n: turns, sentMiB: sent / 2 ** 20, ttfeP50: quantile(ttfe, 0.5), ttfeP95: quantile(ttfe, 0.95), lastTtfe: ttfe.at(-1), cpuMsTotal: cpu * 1000, cpuMsPerReq: (cpu * 1000) / turns, rss: rssMiB(target.pid) };
}

/**
 * `count` sequential 16 KiB POSTs, each with a new tail, after `warmup` unmeasured ones (JIT,
 * connection): first-100 vs last-100 p50, CPU per request in the first and last tenth, RSS growth.
 */
export async function runDriftCell(target, port, { count, warmup = 200 }) {
  const agent = target.agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < warmup; i++) await postMessages(agent, port, conversationOfSize(16 * 1024, 2, i, 4));
  const latencies = [];
  const tenth = Math.max(100, Math.floor(count / 10));
  const rss0 = rssMiB(target.pid);
  let cpuFirst = NaN;
  let cpuMark = NaN;
  const cpu0 = cpuSeconds(target.pid);
  for (let i = 0; i < count; i++) {
    if (i === count - tenth) cpuMark = cpuSeconds(target.pid);
    const r = await postMessages(agent, port, conversationOfSize(16 * 1024, 1, i, 4));
    latencies.push(r.total);
    if (i === tenth - 1) cpuFirst = cpuSeconds(target.pid) - cpu0;
  }
  const cpuLast = cpuSeconds(target.pid) - cpuMark;
  agent.destroy();
  return {
    n: count,
    firstP50: quantile(latencies.slice(0, 100), 0.5),
    lastP50: quantile(latencies.slice(-100), 0.5),
    cpuFirstMsPerReq: (cpuFirst * 1000) / tenth,
    cpuLastMsPerReq: (cpuLast * 1000) / tenth,
    rssStart: rss0,
    rssEnd: rssMiB(target.pid),
  };
}
