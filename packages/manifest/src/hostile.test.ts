import { describe, expect, it } from "vitest";
import { findJsonSyntaxError, isHostPattern, ManifestError, parseManifest } from "./index.js";

function problemsOf(text: string) {
  try {
    parseManifest(text, { file: "bottle.json" });
  } catch (error) {
    expect(ManifestError.isInstance(error)).toBe(true);
    return (error as ManifestError).problems;
  }
  throw new Error("expected the manifest to be rejected");
}

describe("JSON syntax errors", () => {
  const lines = ["{", '  "bottles": {', '    "impl": {', '      "description": "x"', "    }", "  }", "}"];
  const withTypo = (line: number, edit: (text: string) => string) => lines.map((l, i) => (i === line - 1 ? edit(l) : l)).join("\n");

  it.each([
    [1, (l: string) => `${l} x`, 3, '"x"'],
    [2, (l: string) => l.replace(":", ""), 13, '"{"'],
    [3, (l: string) => l.replace('"impl"', "impl"), 5, '"i"'],
    [4, (l: string) => `${l},`, 24, '"}"'],
    [4, (l: string) => l.replace('"x"', "'x'"), 22, `"'"`],
    [6, (l: string) => `${l} ]`, 5, '"]"'],
  ])("a typo on line %i is reported on that line, at the offending character", (line, edit, column, shown) => {
    const text = withTypo(line, edit);
    const problems = problemsOf(text);
    expect(problems).toHaveLength(1);
    // a trailing comma is only wrong where the next token is: the closing brace one line down
    const reportedLine = line === 4 && column === 24 ? 5 : line;
    const expectedColumn = line === 4 && column === 24 ? 5 : column;
    expect(problems[0]!.message).toMatch(new RegExp(`^invalid JSON at line ${reportedLine}, column ${expectedColumn}: unexpected ${shown.replace(/[{}[\]]/g, "\\$&")}`));
  });

  it("reports the end of input, not a slice of it", () => {
    expect(problemsOf('{"bottles": {"a": {}')[0]!.message).toBe('invalid JSON at line 1, column 21: unexpected end of input, expected "," or "}"');
  });

  it("never quotes the surrounding text, which may be a pasted secret", () => {
    const secret = "sk-ant-api03-NOTREALbutSECRETLOOKINGvalue0123456789";
    for (const text of [`{"bottles": {"a": {"agent": {"env": {"K": ${secret}}}}}}`, `{"bottles": {"a": {"x": "${secret}",}}}`, `{"bottles": "${secret}\n"}`]) {
      const error = (() => {
        try {
          parseManifest(text);
        } catch (e) {
          return e as ManifestError;
        }
        throw new Error("accepted");
      })();
      expect(error.message).not.toContain(secret.slice(0, 8));
      expect(error.message).not.toContain(secret.slice(8, 20));
      expect(JSON.stringify(error.problems)).not.toContain(secret.slice(8, 20));
    }
  });

  it("agrees with JSON.parse on what is valid", () => {
    for (const text of ["{}", "[]", '"a"', "0", "-1.5e+3", "true", "null", '{"a":[1,{"b":"\\u00e9\\n"}]}', " [ ] ", '{"a":1}x', "[1,]", "01", "1.", '"\\x"', '"a', "{,}", "", "nul", "[1 2]", '{"a" 1}', "\uFEFF{}"]) {
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      expect(findJsonSyntaxError(text) === undefined, text).toBe(valid);
    }
  });

  it("survives deep nesting", () => {
    expect(findJsonSyntaxError(`${"[".repeat(200_000)}x`)?.offset).toBe(200_000);
  });
});

describe("keys named like Object.prototype members", () => {
  it("accepts constructor/toString/hasOwnProperty as ordinary names", () => {
    const manifest = parseManifest(
      JSON.stringify({
        bottles: {
          constructor: { agent: { env: { toString: "1", hasOwnProperty: "2" } }, egress: { routes: [{ host: "x.com", inject: { constructor: { env: "K" } } }] } },
        },
      }),
    );
    expect(Object.keys(manifest.bottles)).toEqual(["constructor"]);
    expect(Object.values(manifest.bottles)[0]!.agent.env).toEqual({ toString: "1", hasOwnProperty: "2" });
  });

  it.each([
    ['{"bottles":{"__proto__":{"agent":{}}}}', "bottles.__proto__"],
    ['{"bottles":{"a":{"agent":{"env":{"__proto__":"x"}}}}}', "bottles.a.agent.env.__proto__"],
    ['{"bottles":{"a":{"egress":{"routes":[{"host":"x.com","inject":{"__proto__":{"env":"K"}}}]}}}}', "bottles.a.egress.routes[0].inject.__proto__"],
    ['{"bottles":{"a":{"git":{"upstreams":[{"name":"r","url":"https://x.com/r.git","extraHosts":{"__proto__":"1.2.3.4"}}]}}}}', "bottles.a.git.upstreams[0].extraHosts.__proto__"],
    ['{"__proto__":{"bottles":{}},"bottles":{}}', "__proto__"],
  ])("refuses a __proto__ key instead of dropping it: %s", (text, path) => {
    const problems = problemsOf(text);
    expect(problems).toContainEqual(expect.objectContaining({ path, message: 'the key "__proto__" is not allowed' }));
  });

  it("names an empty unknown key with a path that shows it", () => {
    expect(problemsOf('{"bottles":{"a":{"":1}}}')).toContainEqual(expect.objectContaining({ path: 'bottles.a[""]', message: 'unknown key ""' }));
    expect(problemsOf('{"":1,"bottles":{}}')).toContainEqual(expect.objectContaining({ path: '[""]', message: 'unknown key ""' }));
  });
});

describe("route hosts: one rule for the manifest and the egress routes file", () => {
  it.each(["api.example.com", "*.example.com", "10.0.0.1", "::1", "fd00::1", "my_host.internal", "localhost", "x".repeat(63) + ".com"])("accepts %s", (host) => {
    expect(isHostPattern(host)).toBe(true);
    expect(() => parseManifest(JSON.stringify({ bottles: { a: { egress: { routes: [{ host }] } } } }))).not.toThrow();
  });

  it.each(["1.2.3", "123", "*.4", "*.1.2.3.4", "*.10.0.0.1", "256.1.1.1", "a..b", "-a.com", "a-.com", "https://x.com", "x.com:443", "*", "*.", "", `${"a.".repeat(126)}com`, `${"x".repeat(64)}.com`])("refuses %j", (host) => {
    expect(isHostPattern(host)).toBe(false);
    const problems = problemsOf(JSON.stringify({ bottles: { a: { egress: { routes: [{ host }] } } } }));
    expect(problems.map((p) => p.path)).toContain("bottles.a.egress.routes[0].host");
  });

  it("refuses a passthrough route that injects", () => {
    const problems = problemsOf(JSON.stringify({ bottles: { a: { egress: { routes: [{ host: "x.com", passthrough: true, inject: { authorization: { env: "T" } } }] } } } }));
    expect(problems).toContainEqual(expect.objectContaining({ path: "bottles.a.egress.routes[0].passthrough" }));
  });

  it("refuses extra host names that are not host names", () => {
    for (const name of ["bad host", "x.com\n1.2.3.4 evil.com", "*.x.com", "10.0.0.1"]) {
      const problems = problemsOf(JSON.stringify({ bottles: { a: { git: { upstreams: [{ name: "r", url: "https://x.com/r.git", extraHosts: { [name]: "10.0.0.2" } }] } } } }));
      expect(problems[0]!.path).toMatch(/^bottles\.a\.git\.upstreams\[0\]\.extraHosts/);
    }
  });
});
