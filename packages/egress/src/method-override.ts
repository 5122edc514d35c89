/**
 * Method overrides: ways a request asks the upstream to treat it as another method than the
 * one on its request line (frameworks honour these headers and `_method` fields). On a
 * route limited to some methods they would walk around the limit, so egress refuses them
 * there (refuse, not strip: a stripped request would do something else than the agent
 * meant, silently).
 */

export const METHOD_OVERRIDE_HEADERS = ["x-http-method-override", "x-http-method", "x-method-override"] as const;

/** Where an override was found (`header x-http-method-override`, `query _method`, `body _method`), or undefined. */
export function findMethodOverride(rawHeaders: readonly string[], path: string, body: Buffer): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if ((METHOD_OVERRIDE_HEADERS as readonly string[]).includes(name)) return `header ${name}`;
  }
  const q = path.indexOf("?");
  if (q !== -1 && hasMethodField(path.slice(q + 1))) return "query _method";
  if (body.length > 0 && hasMethodField(body.subarray(0, 1 << 20).toString("latin1"))) return "body _method";
  return undefined;
}

/** `_method` as a form/query field (any percent-encoding of its name) or a JSON/multipart field name. */
function hasMethodField(text: string): boolean {
  const decoded = text.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return /(^|[&;?\s"'{,])_method(["']?\s*[:=]|["']\s*[;\r\n])/i.test(decoded) || /name=["']?_method["']?/i.test(decoded);
}
