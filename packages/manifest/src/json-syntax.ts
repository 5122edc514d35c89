/**
 * Where JSON text first stops being JSON. V8's own messages either lack a position or quote
 * a slice of the input (which may hold a pasted secret), so the manifest parser scans the
 * text itself once JSON.parse has failed. Iterative (an explicit stack): deep nesting
 * cannot overflow the call stack.
 */
export interface JsonSyntaxError {
  /** Offset (UTF-16 code units) of the offending character; text.length at end of input. */
  offset: number;
  /** 1-based line and column of `offset`. */
  line: number;
  column: number;
  /** The offending character, or undefined at the end of the input. */
  found: string | undefined;
  /** What would have been valid there, in words. */
  expected: string;
}

type Expect = "value" | "first-key" | "key" | "colon" | "after-value" | "first-value" | "end";

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);

/** Returns the first syntax error of `text`, or undefined when it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const stack: Array<"{" | "["> = [];
  let state = "value" as Expect;
  let i = 0;
  const fail = (offset: number, expected: string): JsonSyntaxError => {
    const before = text.slice(0, offset);
    const line = before.split("\n").length;
    const column = offset - before.lastIndexOf("\n");
    const found = offset < text.length ? String.fromCodePoint(text.codePointAt(offset)!) : undefined;
    return { offset, line, column, found, expected };
  };
  const skipWhitespace = () => {
    while (i < text.length && WHITESPACE.has(text[i]!)) i++;
  };
  /** Scans a string at i (which is a quote); returns an error offset or -1. */
  const scanString = (): number => {
    i++;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') {
        i++;
        return -1;
      }
      if (c === "\\") {
        const e = text[i + 1];
        if (e === undefined) return i + 1;
        if ('"\\/bfnrt'.includes(e)) i += 2;
        else if (e === "u") {
          for (let k = 2; k < 6; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? "")) return i + k;
          i += 6;
        } else return i + 1;
        continue;
      }
      if (c.charCodeAt(0) < 0x20) return i;
      i++;
    }
    return i;
  };
  /** Scans a number at i; returns an error offset or -1. */
  const scanNumber = (): number => {
    if (text[i] === "-") i++;
    if (text[i] === "0") i++;
    else if (/[1-9]/.test(text[i] ?? "")) while (/[0-9]/.test(text[i] ?? "")) i++;
    else return i;
    if (text[i] === ".") {
      i++;
      if (!/[0-9]/.test(text[i] ?? "")) return i;
      while (/[0-9]/.test(text[i] ?? "")) i++;
    }
    if (text[i] === "e" || text[i] === "E") {
      i++;
      if (text[i] === "+" || text[i] === "-") i++;
      if (!/[0-9]/.test(text[i] ?? "")) return i;
      while (/[0-9]/.test(text[i] ?? "")) i++;
    }
    return -1;
  };
  const afterValue = () => {
    state = stack.length === 0 ? "end" : "after-value";
  };
  const closeWith = (c: string): boolean => {
    const top = stack.at(-1);
    if ((c === "}" && top === "{") || (c === "]" && top === "[")) {
      stack.pop();
      i++;
      afterValue();
      return true;
    }
    return false;
  };

  for (;;) {
    skipWhitespace();
    const c = text[i];
    if (state === "end") return c === undefined ? undefined : fail(i, "end of input");
    if (c === undefined) {
      const expected: Record<Exclude<Expect, "end">, string> = {
        value: "a value",
        "first-value": 'a value or "]"',
        "first-key": 'a key in double quotes or "}"',
        key: "a key in double quotes",
        colon: '":"',
        "after-value": stack.at(-1) === "{" ? '"," or "}"' : '"," or "]"',
      };
      return fail(i, expected[state]);
    }
    switch (state) {
      case "value":
      case "first-value": {
        if (state === "first-value" && c === "]" && closeWith(c)) break;
        if (c === "{") {
          stack.push("{");
          i++;
          state = "first-key";
        } else if (c === "[") {
          stack.push("[");
          i++;
          state = "first-value";
        } else if (c === '"') {
          const bad = scanString();
          if (bad >= 0) return fail(bad, bad >= text.length ? 'a closing "' : "a valid string character or escape");
          afterValue();
        } else if (c === "-" || /[0-9]/.test(c)) {
          const bad = scanNumber();
          if (bad >= 0) return fail(bad, "a digit");
          afterValue();
        } else if (/[tfn]/.test(c)) {
          const word = c === "t" ? "true" : c === "f" ? "false" : "null";
          for (let k = 0; k < word.length; k++) if (text[i + k] !== word[k]) return fail(i + k, `the literal ${word}`);
          i += word.length;
          afterValue();
        } else return fail(i, state === "first-value" ? 'a value or "]"' : "a value (object, array, string, number, true, false or null)");
        break;
      }
      case "first-key":
      case "key": {
        if (state === "first-key" && c === "}" && closeWith(c)) break;
        if (c !== '"') return fail(i, state === "first-key" ? 'a key in double quotes or "}"' : "a key in double quotes (no trailing commas)");
        const bad = scanString();
        if (bad >= 0) return fail(bad, bad >= text.length ? 'a closing "' : "a valid string character or escape");
        state = "colon";
        break;
      }
      case "colon":
        if (c !== ":") return fail(i, '":"');
        i++;
        state = "value";
        break;
      case "after-value": {
        const top = stack.at(-1);
        if (c === ",") {
          i++;
          state = top === "{" ? "key" : "value";
        } else if (!closeWith(c)) return fail(i, top === "{" ? '"," or "}"' : '"," or "]"');
        break;
      }
    }
  }
}

/** One-line description of the error that never includes more than the offending character. */
export function describeJsonSyntaxError(error: JsonSyntaxError): string {
  const what = error.found === undefined ? "unexpected end of input" : `unexpected ${JSON.stringify(error.found)}`;
  return `invalid JSON at line ${error.line}, column ${error.column}: ${what}, expected ${error.expected}`;
}
