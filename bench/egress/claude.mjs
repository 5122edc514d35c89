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
 * Runs one cell on every target, interleaved: round r sends `concurrency` requests (worker w
 * sends bodies(target, w, r)) to each target in turn, so a load swing on a shared machine hits
 * every target alike. Returns, per target, latency quantiles, proxy CPU per request and RSS.
 */
export async function runPostCell(targets, port, { concurrency, rounds, warmup, bodies }) {
  const state = targets.map((t) => ({ t, agent: t.agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency }), ttfe: [], total: [], saw: true, cpu: 0 }));
  // Warm-up: connections, TLS, and (for egress) the conversation history in the scan cache.
  for (const s of state) {
    await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; i < warmup; i++) await postMessages(s.agent, port, bodies(s.t, w, -1 - i));
    }));
  }
  for (let r = 0; r < rounds; r++) {
    for (const s of state) {
      const cpu0 = cpuSeconds(s.t.pid);
      const results = await Promise.all(Array.from({ length: concurrency }, (_, w) => postMessages(s.agent, port, bodies(s.t, w, r))));
      s.cpu += cpuSeconds(s.t.pid) - cpu0;
      for (const x of results) {
        s.ttfe.push(x.ttfe);
        s.total.push(x.total);
        s.saw &&= x.saw === "1";
      }
    }
  }
  const out = {};
  for (const s of state) {
    s.agent.destroy();
    const n = s.ttfe.length;
    out[s.t.name] = {
      n,
      ttfeP50: quantile(s.ttfe, 0.5),
      ttfeP95: quantile(s.ttfe, 0.95),
      totalP50: quantile(s.total, 0.5),
      totalP95: quantile(s.total, 0.95),
      cpuMsPerReq: (s.cpu * 1000) / n,
      rss: rssMiB(s.t.pid),
      injected: s.saw,
    };
  }
  return out;
}

/** A session growing turn by turn to ~`totalBytes`, turns interleaved across targets; per-turn TTFE and each proxy's total CPU. */
export async function runSessionCell(targets, port, { turns, totalBytes, seed }) {
  const state = targets.map((t, k) => ({ t, results: growingSession(turns, totalBytes, seed + k), agent: t.agent({ keepAlive: true, maxSockets: 1 }), ttfe: [], sent: 0, cpu: 0 }));
  for (const s of state) await postMessages(s.agent, port, Buffer.from(claudeBody([`warm-up ${s.t.name}`]))); // connection + TLS
  for (let n = 1; n <= turns; n++) {
    for (const s of state) {
      const body = Buffer.from(claudeBody(s.results.slice(0, n)));
      s.sent += body.length;
      const cpu0 = cpuSeconds(s.t.pid);
      s.ttfe.push((await postMessages(s.agent, port, body)).ttfe);
      s.cpu += cpuSeconds(s.t.pid) - cpu0;
    }
  }
  const out = {};
  for (const s of state) {
    s.agent.destroy();
    out[s.t.name] = { n: turns, sentMiB: s.sent / 2 ** 20, ttfeP50: quantile(s.ttfe, 0.5), ttfeP95: quantile(s.ttfe, 0.95), lastTtfe: s.ttfe.at(-1), cpuMsTotal: s.cpu * 1000, cpuMsPerReq: (s.cpu * 1000) / turns, rss: rssMiB(s.t.pid) };
  }
  return out;
}

/**
 * `count` sequential 16 KiB POSTs per target (interleaved across targets), each with a new
 * tail, after `warmup` unmeasured ones (JIT, connection): first-100 vs last-100 p50, CPU per
 * request in the first and last tenth, RSS growth.
 */
export async function runDriftCell(targets, port, { count, warmup = 200 }) {
  const state = targets.map((t) => ({ t, agent: t.agent({ keepAlive: true, maxSockets: 1 }), latencies: [], cpuFirst: 0, cpuLast: 0, rss0: NaN, rssSamples: [] }));
  for (const s of state) {
    for (let i = 0; i < warmup; i++) await postMessages(s.agent, port, conversationOfSize(16 * 1024, 2, i, 4));
    s.rss0 = rssMiB(s.t.pid);
  }
  const tenth = Math.max(100, Math.floor(count / 10));
  for (let i = 0; i < count; i++) {
    const body = conversationOfSize(16 * 1024, 1, i, 4);
    for (const s of state) {
      const cpu0 = cpuSeconds(s.t.pid);
      s.latencies.push((await postMessages(s.agent, port, body)).total);
      const cpu = cpuSeconds(s.t.pid) - cpu0;
      if (i < tenth) s.cpuFirst += cpu;
      if (i >= count - tenth) s.cpuLast += cpu;
      if ((i + 1) % Math.floor(count / 4) === 0) s.rssSamples.push(rssMiB(s.t.pid));
    }
  }
  const out = {};
  for (const s of state) {
    s.agent.destroy();
    out[s.t.name] = {
      n: count,
      firstP50: quantile(s.latencies.slice(0, 100), 0.5),
      lastP50: quantile(s.latencies.slice(-100), 0.5),
      cpuFirstMsPerReq: (s.cpuFirst * 1000) / tenth,
      cpuLastMsPerReq: (s.cpuLast * 1000) / tenth,
      rssStart: s.rss0,
      rssEnd: rssMiB(s.t.pid),
      rssQuarters: s.rssSamples,
    };
  }
  return out;
}
