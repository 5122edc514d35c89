import { BottleError } from "@bottle/errors";

/** The fields of smolvm's per-machine JSON (`machine ls --json`, `machine status --json`) this backend reads. */
export interface SmolvmMachine {
  name: string;
  /** created | running | stopped | failed | unreachable | frozen */
  state: string;
  cpus: number | undefined;
  memoryMib: number | undefined;
  pid: number | null;
  image: string | null;
  labels: Record<string, string>;
  network: boolean;
}

function toMachine(value: unknown): SmolvmMachine {
  if (typeof value !== "object" || value === null) throw new Error("not an object");
  const v = value as Record<string, unknown>;
  if (typeof v.name !== "string" || typeof v.state !== "string") throw new Error("name/state missing");
  const labels: Record<string, string> = {};
  if (typeof v.labels === "object" && v.labels !== null) {
    for (const [key, label] of Object.entries(v.labels as Record<string, unknown>)) if (typeof label === "string") labels[key] = label;
  }
  return {
    name: v.name,
    state: v.state,
    cpus: typeof v.cpus === "number" ? v.cpus : undefined,
    memoryMib: typeof v.memory_mib === "number" ? v.memory_mib : undefined,
    pid: typeof v.pid === "number" ? v.pid : null,
    image: typeof v.image === "string" ? v.image : null,
    labels,
    network: v.network === true,
  };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BottleError(`could not read the output of smolvm ${what} as JSON`, {
      code: "SMOLVM_BAD_OUTPUT",
      hint: "check that BOTTLE_SMOLVM_BIN points at smolvm 1.9.3",
      details: { output: text.slice(0, 500) },
      cause: error,
    });
  }
}

/** `machine ls --json` prints an array (`[]` when there are no machines). */
export function parseMachineList(stdout: string): SmolvmMachine[] {
  const value = parseJson(stdout, "machine ls --json");
  if (!Array.isArray(value)) throw new BottleError("smolvm machine ls --json did not print an array", { code: "SMOLVM_BAD_OUTPUT" });
  return value.map(toMachine);
}

/** `machine status --name N --json` prints one machine object. */
export function parseMachineStatus(stdout: string): SmolvmMachine {
  const value = parseJson(stdout, "machine status --json");
  try {
    return toMachine(value);
  } catch (error) {
    throw new BottleError("smolvm machine status --json printed an unexpected object", { code: "SMOLVM_BAD_OUTPUT", cause: error });
  }
}

/**
 * The guest's own IPv4 address from `/proc/net/fib_trie` (present in every Linux guest,
 * no tools needed): the addresses listed as `/32 host LOCAL`, minus loopback. A smolvm
 * named-network lease (100.96.k.2) wins over any other address.
 */
export function parseGuestAddress(fibTrie: string): string | undefined {
  const lines = fibTrie.split("\n");
  const found: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (!/\/32 host LOCAL/.test(lines[i] ?? "")) continue;
    const m = /(\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(lines[i - 1] ?? "");
    const ip = m?.[1];
    if (ip && !ip.startsWith("127.") && !found.includes(ip)) found.push(ip);
  }
  return found.find((ip) => ip.startsWith("100.96.")) ?? found[0];
}
