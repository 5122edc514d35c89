import tls from "node:tls";
import { mintLeafCertificate, type BottleCa } from "@bottle/ca";

const MAX_LEAF_CACHE = 4096;

/** The TLS context egress presents for an intercepted host: minted with the bottle CA once, then cached. */
export type LeafContexts = (host: string) => Promise<tls.SecureContext>;

/** Leaf contexts by host name, at most 4,096 (oldest out first); a failed mint is not cached. */
export function createLeafContexts(ca: BottleCa): LeafContexts {
  const leafContexts = new Map<string, Promise<tls.SecureContext>>();
  return function leafContext(host: string): Promise<tls.SecureContext> {
    let ctx = leafContexts.get(host);
    if (!ctx) {
      if (leafContexts.size >= MAX_LEAF_CACHE) leafContexts.delete(leafContexts.keys().next().value as string);
      ctx = mintLeafCertificate(ca, host).then((leaf) => tls.createSecureContext({ cert: leaf.certPem, key: leaf.keyPem }));
      ctx.catch(() => leafContexts.delete(host));
      leafContexts.set(host, ctx);
    }
    return ctx;
  };
}
