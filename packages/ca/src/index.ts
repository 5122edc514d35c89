import "reflect-metadata";
import { createHash, createPrivateKey, randomBytes, webcrypto, X509Certificate as NodeX509 } from "node:crypto";
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { BottleError } from "@bottle/errors";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const crypto = webcrypto;
x509.cryptoProvider.set(crypto);

const EC_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/** PEM texts of a certificate and its private key (SEC1 "EC PRIVATE KEY"). */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** A loaded CA, ready to sign leaf certificates. */
export interface BottleCa extends PemPair {
  readonly certificate: x509.X509Certificate;
  readonly signingKey: CryptoKey;
  /** One leaf key pair per loaded CA, shared by every leaf it mints (cheap minting, like mitmproxy). */
  leafKeys?: Promise<{ keys: CryptoKeyPair; keyPem: string }>;
}

export interface CreateBottleCaOptions {
  commonName: string;
  /** Validity in days; default 3650. */
  validityDays?: number;
}

/** Creates a fresh ECDSA P-256 CA certificate and its SEC1 PEM private key. */
export async function createBottleCa(options: CreateBottleCaOptions): Promise<PemPair> {
  const keys = (await crypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [options.commonName] }, { O: ["bottle"] }],
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + (options.validityDays ?? 3650) * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await toSec1Pem(keys.privateKey) };
}

/** Parses a CA certificate and key (SEC1 or PKCS#8 PEM) for signing. */
export async function loadBottleCa(pair: PemPair): Promise<BottleCa> {
  let certificate: x509.X509Certificate;
  let signingKey: CryptoKey;
  try {
    certificate = new x509.X509Certificate(pair.certPem);
    const pkcs8 = createPrivateKey(pair.keyPem).export({ type: "pkcs8", format: "der" });
    signingKey = await crypto.subtle.importKey("pkcs8", pkcs8, EC_ALGORITHM, false, ["sign"]);
  } catch (cause) {
    throw new BottleError("The bottle CA certificate or key cannot be read.", {
      code: "CA_INVALID",
      hint: "Expect a PEM certificate and an ECDSA P-256 private key (SEC1 or PKCS#8 PEM); recreate the CA if it is damaged.",
      cause,
    });
  }
  const publicMatches = await certificate.publicKey.export(EC_ALGORITHM, ["verify"], crypto).then(
    async (pub) => {
      const data = new Uint8Array([1, 2, 3]);
      const sig = await crypto.subtle.sign(SIGNING_ALGORITHM, signingKey, data);
      return crypto.subtle.verify(SIGNING_ALGORITHM, pub, sig, data);
    },
    () => false,
  );
  if (!publicMatches) {
    throw new BottleError("The bottle CA key does not belong to the CA certificate.", {
      code: "CA_KEY_MISMATCH",
      hint: "Use the ca.key written together with ca.crt, or recreate both.",
    });
  }
  return { certPem: pair.certPem, keyPem: pair.keyPem, certificate, signingKey };
}

/**
 * Mints a server certificate for `hostname` (DNS name or IP address) signed by the CA,
 * valid for about a year, with a random serial.
 */
export async function mintLeafCertificate(ca: BottleCa, hostname: string): Promise<PemPair> {
  const name = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  if (name.length === 0 || name.length > 253 || /[\s/\\]/.test(name)) {
    throw new BottleError(`Cannot mint a certificate for host "${hostname}".`, {
      code: "CA_BAD_HOSTNAME",
      hint: "Use a DNS name or an IP address.",
    });
  }
  ca.leafKeys ??= (async () => {
    const keys = (await crypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
    return { keys, keyPem: await toSec1Pem(keys.privateKey) };
  })();
  const { keys, keyPem } = await ca.leafKeys;
  const now = Date.now();
  const san = isIP(name) ? { type: "ip" as const, value: name } : { type: "dns" as const, value: name };
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [name.length <= 64 ? name : "bottle leaf"] }],
    issuer: ca.certificate.subjectName,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + 365 * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    extensions: [
      new x509.SubjectAlternativeNameExtension([san], false),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey, false, crypto),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem };
}

/**
 * Writes `ca.crt` (0644) and `ca.key` (0600) into `dir` (created or tightened to 0700).
 * Each file is written to a temporary name and renamed, so readers never see half a key.
 */
export async function writeBottleCa(dir: string, ca: PemPair): Promise<{ certPath: string; keyPath: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const certPath = join(dir, "ca.crt");
  const keyPath = join(dir, "ca.key");
  await writeAtomic(keyPath, ca.keyPem, 0o600);
  await writeAtomic(certPath, ca.certPem, 0o644);
  return { certPath, keyPath };
}

/** SHA-256 fingerprint of a PEM certificate's DER, as colon-separated upper-case hex. */
export function fingerprintSha256(certPem: string): string {
  const der = new NodeX509(certPem).raw;
  return createHash("sha256")
    .update(der)
    .digest("hex")
    .toUpperCase()
    .replace(/(..)(?!$)/g, "$1:");
}

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

async function toSec1Pem(privateKey: CryptoKey): Promise<string> {
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", privateKey));
  return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ type: "sec1", format: "pem" }).toString();
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive, no leading zero byte
  return bytes.toString("hex");
}
