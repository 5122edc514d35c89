import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { bytesToText, decodeBody, jsonUnescape, percentDecode, textViews } from "./normalize.js";

describe("normalize", () => {
  it("percent-decodes each escape on its own, in any case, leaving malformed ones", () => {
    expect(percentDecode("100%&x=s%6B-%4a%zz%")).toBe("100%&x=sk-J%zz%");
    expect(percentDecode("%e2%82%AC")).toBe("€");
  });

  it("undoes JSON escapes anywhere, surrogate pairs included", () => {
    expect(jsonUnescape('a\\u0073\\u006B\\n\\/\\ud83d\\ude00')).toBe("ask\n/😀");
  });

  it("offers chained views: JSON inside percent, whitespace removed", () => {
    const views = textViews("x=%5Cu0061b%0Ac");
    expect(views).toContain("x=ab\nc");
    expect(views).toContain("x=abc");
  });

  it("decodes chained Content-Encodings and refuses past the cap or unknown codings", () => {
    const body = zlib.brotliCompressSync(zlib.gzipSync("hello"));
    expect(decodeBody(body, { "content-encoding": "gzip, br" }, 1024)).toMatchObject({ text: "hello" });
    expect(decodeBody(zlib.gzipSync(Buffer.alloc(4096)), { "content-encoding": "gzip" }, 1024)).toBe("too-large-to-inspect");
    expect(decodeBody(Buffer.from("x"), { "content-encoding": "zstd" }, 1024)).toBe("unknown-content-encoding");
    expect(decodeBody(Buffer.from("not gzip"), { "content-encoding": "gzip" }, 1024)).toBe("corrupt-content-encoding");
  });

  it("reads the declared charset, and UTF-16 by BOM or by its NUL pattern", () => {
    expect(decodeBody(Buffer.from("héllo", "latin1"), { "content-type": "text/plain; charset=ISO-8859-1" }, 1024)).toMatchObject({ text: "héllo" });
    expect(bytesToText(Buffer.from("hello world", "utf16le"), undefined)).toBe("hello world");
    expect(bytesToText(Buffer.from("hello world", "utf16le").swap16(), undefined)).toBe("hello world");
  });
});
