import path from "node:path";
import type { Command } from "commander";
import type { Output } from "../output.js";

export function registerCa(program: Command, output: Output): void {
  program
    .command("ca")
    .description("Create a bottle CA (ECDSA P-256; key in SEC1 PEM, 0600, folder 0700). `bottle start` makes one per bottle by itself")
    .requiredOption("--out <dir>", "folder for ca.crt and ca.key")
    .option("--name <cn>", "certificate common name", "bottle CA")
    .option("--json", "print paths and fingerprint as JSON")
    .addHelpText("after", "\nExample:\n  $ bottle ca --out ./my-ca")
    .action(async (opts: { out: string; name: string; json?: boolean }) => {
      const { createBottleCa, fingerprintSha256, writeBottleCa } = await import("@bottle/ca");
      const pair = await createBottleCa({ commonName: opts.name });
      const written = await writeBottleCa(path.resolve(opts.out), pair);
      const result = { ...written, sha256: fingerprintSha256(pair.certPem) };
      if (opts.json) output.json(result);
      else output.out(`CA written: ${written.certPath} (key ${written.keyPath})\nsha256 ${result.sha256}`);
    });
}
