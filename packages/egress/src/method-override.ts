/**
 * Method overrides: ways a request asks the upstream to treat it as another method than the
 * one on its request line (frameworks honour these headers and `_method` fields). On a
 * route limited to some methods they would walk around the limit, so egress refuses them
 * there (refuse, not strip: a stripped request would do something else than the agent
 * meant, silently).
 *
 * A body field counts where frameworks read one (Rack, Laravel, Symfony, Express's
 * method-override): a form field, a multipart part name, or a top-level key of a JSON object.
 * Text that merely mentions `_method` — source code in a conversation sent to a model — is
 * not an override, and refusing it would end the conversation.
 */

export const METHOD_OVERRIDE_HEADERS = ["x-http-method-override", "x-http-method", "x-method-override"] as const;

/** Bytes of a form or multipart body searched for a `_method` field. */
const FORM_LIMIT = 1 << 20;

/** Where an override was found (`header x-http-method-override`, `query _method`, `body _method`), or undefined. */
export function findMethodOverride(rawHeaders: readonly string[], path: string, body: Buffer): string | undefined {
  let contentType: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if ((METHOD_OVERRIDE_HEADERS as readonly string[]).includes(name)) return `header ${name}`;
    if (name === "content-type") contentType = rawHeaders[i + 1]!.toLowerCase();
  }
  const q = path.indexOf("?");
  if (q !== -1 && hasFormField(path.slice(q + 1))) return "query _method";
  if (body.length > 0 && bodyHasMethodField(body, contentType)) return "body _method";
  return undefined;
}

function bodyHasMethodField(body: Buffer, contentType: string | undefined): boolean {
  // Rack treats a POST without a content type as form data.
  if (contentType === undefined || contentType.startsWith("application/x-www-form-urlencoded")) {
    return hasFormField(body.subarray(0, FORM_LIMIT).toString("latin1"));
  }
  if (contentType.startsWith("multipart/form-data")) {
    return /\bname\s*=\s*["']?_method["']?/i.test(body.subarray(0, FORM_LIMIT).toString("latin1"));
  }
  if (/[/+]json\b/.test(contentType)) return jsonHasTopLevelMethod(body);
  return false;
}

/** `_method` as a form/query field, under any percent-encoding of its name. */
function hasFormField(text: string): boolean {
  const decoded = text.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return /(^|[&;?])\s*_method\s*=/i.test(decoded);
}

/**
 * A top-level `_method` key of a JSON object, however its name is escaped or cased. Parsing
 * costs a few ms per MiB, so it runs only when the name could be there: literally, or behind
 * a `\u00XX` escape of a letter or `_` (the `\u001b` of terminal colours does not count).
 */
function jsonHasTopLevelMethod(body: Buffer): boolean {
  const text = body.toString("latin1");
  if (!/_method|\\u00[4-7][0-9a-f]/i.test(text)) return false;
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    // Not JSON: no framework reads a JSON field out of it.
    return false;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).some((k) => k.toLowerCase() === "_method");
}
