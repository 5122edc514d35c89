import { createBottleCa } from "@bottle/ca";
import { TEST_RUN_ID, ensureDocker } from "@bottle/test-utils";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeImages } from "./__fixtures__/standins.js";
import { CA_INSTALL_SCRIPT } from "./provision.js";

// CA_INSTALL_SCRIPT's fast path must leave the trust store exactly as Debian's
// update-ca-certificates would: same bundle, same links in /etc/ssl/certs.
const image = `bottle-test/ca-trust:${TEST_RUN_ID.replace(/[^a-z0-9]/g, "")}`;
const caPath = "/usr/local/share/ca-certificates/bottle-ca.crt";
const DOCKERFILE = `FROM bottle/base:bookworm
RUN apt-get update -q && apt-get install -y -q --no-install-recommends ca-certificates openssl && rm -rf /var/lib/apt/lists/*
`;
// Bundle digest, then every link of /etc/ssl/certs with its target, sorted.
const SNAPSHOT = "sha256sum /etc/ssl/certs/ca-certificates.crt | cut -d' ' -f1; cd /etc/ssl/certs && for f in *; do [ -L \"$f\" ] && echo \"$f -> $(readlink \"$f\")\"; done | sort";

async function trustIn(script: string, pem: string): Promise<string> {
  const result = await execa("docker", ["run", "--rm", "-i", "--label", "dev.bottle.test=1", image, "sh", "-c", `${script}\n${SNAPSHOT}`, "sh", caPath], { input: pem });
  return result.stdout;
}

beforeAll(async () => {
  await ensureDocker();
  await execa("docker", ["build", "--quiet", "--label", "dev.bottle.test=1", "-t", image, "-"], { input: DOCKERFILE });
}, 180_000);

afterAll(async () => {
  await removeImages([image]);
});

describe("CA_INSTALL_SCRIPT", () => {
  it("leaves the same trust store as update-ca-certificates", async () => {
    const { certPem } = await createBottleCa({ commonName: "bottle test CA" });
    // Shadowed: the fast path must not need it.
    const shadow = "mkdir /tmp/shim; printf '#!/bin/sh\\necho fell back >&2; exit 9\\n' > /tmp/shim/update-ca-certificates; chmod +x /tmp/shim/update-ca-certificates; PATH=/tmp/shim:$PATH";
    const fast = await trustIn(`${shadow}\n${CA_INSTALL_SCRIPT}`, certPem);
    const debian = await trustIn('set -e; mkdir -p "$(dirname "$1")"; cat > "$1"; update-ca-certificates >/dev/null', certPem);
    expect(fast).toBe(debian);
    expect(fast).toContain("bottle-ca.pem -> /usr/local/share/ca-certificates/bottle-ca.crt");
    expect(fast).toMatch(/[0-9a-f]{8}\.0 -> bottle-ca\.pem/);
  });

  it("falls back to update-ca-certificates for what it cannot parse", async () => {
    const pem = "-----BEGIN CERTIFICATE-----\nnot-a-certificate\n-----END CERTIFICATE-----\n";
    const result = await execa("docker", ["run", "--rm", "-i", image, "sh", "-c", `${CA_INSTALL_SCRIPT}\ngrep -c not-a-certificate /etc/ssl/certs/ca-certificates.crt`, "sh", caPath], { input: pem, reject: false });
    expect(result.stdout.trim()).toBe("1");
  });
});
