import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { createBottleCa, fingerprintSha256, loadBottleCa, mintLeafCertificate, writeBottleCa } from "./index.js";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function handshake(leaf: { certPem: string; keyPem: string }, trust: string, servername: string, host = "127.0.0.1") {
  const server = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => s.end("hello"));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host, port, ca: [trust], servername: tlsServername(servername) });
      let data = "";
      socket.setEncoding("utf8");
      socket.on("data", (d) => (data += d));
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
  } finally {
    server.close();
  }
}

// IP addresses are not sent as SNI; node then checks the SAN iPAddress against `host`.
function tlsServername(name: string): string | undefined {
  return /^[\d.]+$/.test(name) ? undefined : name;
}

describe("@bottle/ca", () => {
  it("creates a CA whose key is SEC1 PEM and whose certificate is a CA", async () => {
    const ca = await createBottleCa({ commonName: "bottle test CA" });
    expect(ca.keyPem.startsWith("-----BEGIN EC PRIVATE KEY-----")).toBe(true);
    const key = createPrivateKey(ca.keyPem);
    expect(key.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toContain("CN=bottle test CA");
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect(fingerprintSha256(ca.certPem)).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(fingerprintSha256(ca.certPem)).toBe(cert.fingerprint256);
  });

  it("mints leaves that a real TLS client trusting only the CA accepts (DNS and IP)", async () => {
    const ca = await loadBottleCa(await createBottleCa({ commonName: "bottle test CA" }));
    const dnsLeaf = await mintLeafCertificate(ca, "localhost");
    expect(dnsLeaf.keyPem.startsWith("-----BEGIN EC PRIVATE KEY-----")).toBe(true);
    expect(await handshake(dnsLeaf, ca.certPem, "localhost")).toBe("hello");
    const ipLeaf = await mintLeafCertificate(ca, "127.0.0.1");
    expect(await handshake(ipLeaf, ca.certPem, "127.0.0.1")).toBe("hello");

    const leaf = new X509Certificate(dnsLeaf.certPem);
    expect(leaf.ca).toBe(false);
    expect(leaf.subjectAltName).toBe("DNS:localhost");
    expect(leaf.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    const days = (Date.parse(leaf.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(360);
    expect(days).toBeLessThan(370);
    const other = await mintLeafCertificate(ca, "localhost");
    expect(new X509Certificate(other.certPem).serialNumber).not.toBe(leaf.serialNumber);
  });

  it("rejects a leaf for another name and a leaf from another CA", async () => {
    const ca = await loadBottleCa(await createBottleCa({ commonName: "A" }));
    const stranger = await createBottleCa({ commonName: "B" });
    const leaf = await mintLeafCertificate(ca, "example.test");
    await expect(handshake(leaf, ca.certPem, "localhost")).rejects.toThrow(/altnames|Hostname/i);
    await expect(handshake(leaf, stranger.certPem, "example.test")).rejects.toThrow(/certificate/i);
  });

  it("refuses a key that does not match the certificate", async () => {
    const a = await createBottleCa({ commonName: "A" });
    const b = await createBottleCa({ commonName: "B" });
    await expect(loadBottleCa({ certPem: a.certPem, keyPem: b.keyPem })).rejects.toMatchObject({ code: "CA_KEY_MISMATCH" });
    await expect(loadBottleCa({ certPem: "nope", keyPem: a.keyPem })).rejects.toMatchObject({ code: "CA_INVALID" });
  });

  it("writes ca.crt 0644 and ca.key 0600 in a 0700 folder", async () => {
    const base = await mkdtemp(join(tmpdir(), "bottle-ca-"));
    dirs.push(base);
    const ca = await createBottleCa({ commonName: "bottle test CA" });
    const dir = join(base, "ca");
    const { certPath, keyPath } = await writeBottleCa(dir, ca);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(certPath)).mode & 0o777).toBe(0o644);
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    expect(await readFile(keyPath, "utf8")).toBe(ca.keyPem);
    expect(await readFile(certPath, "utf8")).toBe(ca.certPem);
  });
});
