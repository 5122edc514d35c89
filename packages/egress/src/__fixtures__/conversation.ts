/**
 * Claude-Code-shaped Messages API bodies for tests: a system prompt, tool definitions, and a
 * conversation that grows by one tool round per turn, resent whole every turn, with
 * `cache_control` on the newest block only (as Claude Code moves it forward).
 */

const WORDS = "the of and to in is that for it as with was on be by this are from or have an at not but what all were when we there can".split(" ");

/** Deterministic filler text (a small LCG), `bytes` long. */
export function filler(seed: number, bytes: number): string {
  let x = seed >>> 0 || 1;
  let out = "";
  while (out.length < bytes) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const w = WORDS[x % WORDS.length]!;
    out += (x & 0x300) === 0 ? `${w}\n` : `${w} `;
  }
  return out.slice(0, bytes);
}

const SYSTEM = filler(7, 12 * 1024);
const TOOLS = Array.from({ length: 16 }, (_, i) => ({
  name: `Tool${i}`,
  description: filler(100 + i, 1500),
  input_schema: { type: "object", properties: { path: { type: "string", description: filler(200 + i, 120) }, limit: { type: "number" } }, required: ["path"] },
}));

export interface Turn {
  /** Text of the tool result this turn brings in. */
  toolResult: string;
}

/** Body of request number `turns.length`: every earlier turn, in order. `small`: a short system prompt and two tools. */
export function claudeBody(turns: readonly Turn[], small = false): string {
  const messages: unknown[] = [{ role: "user", content: [{ type: "text", text: "Please work on the task in /workspace." }] }];
  turns.forEach((turn, i) => {
    messages.push({ role: "assistant", content: [{ type: "tool_use", id: `toolu_${i}`, name: "Tool1", input: { path: `/workspace/file${i}.txt` } }] });
    messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: `toolu_${i}`, content: turn.toolResult }] });
  });
  const last = messages.at(-1) as { content: Array<Record<string, unknown>> };
  last.content[last.content.length - 1]!["cache_control"] = { type: "ephemeral" };
  return JSON.stringify({
    model: "claude-sonnet-4-5",
    messages,
    system: [{ type: "text", text: small ? SYSTEM.slice(0, 300) : SYSTEM, cache_control: { type: "ephemeral" } }],
    tools: small ? TOOLS.slice(0, 2) : TOOLS,
    metadata: { user_id: "user_0123456789abcdef" },
    max_tokens: 32000,
    stream: true,
  });
}

/** Turns whose tool results together make a body of about `totalBytes` after `count` turns. */
export function growingSession(count: number, totalBytes: number, seed = 1): Turn[] {
  const base = Buffer.byteLength(claudeBody([]));
  const per = Math.max(64, Math.floor((totalBytes - base) / count) - 200);
  return Array.from({ length: count }, (_, i) => ({ toolResult: filler(seed * 1000 + i, per) }));
}
