/** A clap-like parser for the subset of the smolvm 1.9.3 CLI the stand-in implements. */

export interface FlagSpec {
  long: string;
  short?: string;
  /** Takes a value (`--name X`, `--name=X`, `-n X`). */
  value: boolean;
}

export interface Parsed {
  flags: Map<string, string[]>;
  bools: Set<string>;
  positionals: string[];
  /** Everything after `--` (or after the first positional for trailing-var-arg commands). */
  rest: string[];
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], specs: FlagSpec[], o: { trailingAfterFirstPositional?: boolean; maxPositionals?: number } = {}): Parsed {
  const byLong = new Map(specs.map((s) => [s.long, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const out: Parsed = { flags: new Map(), bools: new Set(), positionals: [], rest: [] };
  const put = (spec: FlagSpec, value?: string) => {
    if (!spec.value) out.bools.add(spec.long);
    else out.flags.set(spec.long, [...(out.flags.get(spec.long) ?? []), value!]);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.rest = argv.slice(i + 1);
      break;
    }
    if (arg.startsWith("--")) {
      const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unexpected argument '--${name}' found`);
      if (spec.value) {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new UsageError(`a value is required for '--${name} <${name.toUpperCase()}>' but none was supplied`);
        put(spec, value);
      } else put(spec);
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      const letters = arg.slice(1);
      for (let j = 0; j < letters.length; j++) {
        const spec = byShort.get(letters[j]!);
        if (!spec) throw new UsageError(`unexpected argument '-${letters[j]}' found`);
        if (spec.value) {
          const value = letters.slice(j + 1) || argv[++i];
          if (value === undefined) throw new UsageError(`a value is required for '-${letters[j]}' but none was supplied`);
          put(spec, value);
          break;
        }
        put(spec);
      }
      continue;
    }
    if (o.trailingAfterFirstPositional) {
      out.rest = argv.slice(i);
      break;
    }
    out.positionals.push(arg);
    if (o.maxPositionals !== undefined && out.positionals.length > o.maxPositionals) throw new UsageError(`unexpected argument '${arg}' found`);
  }
  return out;
}

export function one(p: Parsed, long: string): string | undefined {
  const values = p.flags.get(long);
  return values?.[values.length - 1];
}

export function many(p: Parsed, long: string): string[] {
  return p.flags.get(long) ?? [];
}

export const SPECS = {
  create: [
    { long: "name", short: "n", value: true },
    { long: "label", value: true },
    { long: "image", short: "I", value: true },
    { long: "cpus", value: true },
    { long: "mem", value: true },
    { long: "volume", short: "v", value: true },
    { long: "port", short: "p", value: true },
    { long: "net", value: false },
    { long: "network", value: true },
    { long: "allow-cidr", value: true },
    { long: "allow-host", value: true },
    { long: "dns", value: true },
    { long: "env", short: "e", value: true },
    { long: "workdir", short: "w", value: true },
    { long: "init", value: true },
  ],
  exec: [
    { long: "name", value: true },
    { long: "workdir", short: "w", value: true },
    { long: "env", short: "e", value: true },
    { long: "timeout", value: true },
    { long: "interactive", short: "i", value: false },
    { long: "tty", short: "t", value: false },
    { long: "stream", value: false },
    { long: "detach", short: "d", value: false },
  ],
  cp: [
    { long: "mode", value: true },
    { long: "uid", value: true },
    { long: "gid", value: true },
  ],
  named: [{ long: "name", short: "n", value: true }],
  status: [
    { long: "name", short: "n", value: true },
    { long: "json", value: false },
  ],
  delete: [
    { long: "name", short: "n", value: true },
    { long: "force", short: "f", value: false },
    { long: "cascade", value: false },
  ],
  ls: [
    { long: "verbose", short: "v", value: false },
    { long: "json", value: false },
  ],
} satisfies Record<string, FlagSpec[]>;
