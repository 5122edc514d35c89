import { execa } from "execa";
import { mapSmolvmError, smolvmNotFoundError } from "./errors.js";

export interface SmolvmCliOptions {
  /** Binary; default `BOTTLE_SMOLVM_BIN` or `smolvm` on PATH. */
  bin?: string;
  /** Extra environment for every invocation. */
  env?: NodeJS.ProcessEnv;
  /** Called with every argument list before it is run (tests record these). */
  onCommand?: (argv: string[]) => void;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function smolvmBin(env: NodeJS.ProcessEnv = process.env): string {
  return env.BOTTLE_SMOLVM_BIN && env.BOTTLE_SMOLVM_BIN.length > 0 ? env.BOTTLE_SMOLVM_BIN : "smolvm";
}

/** Runs smolvm; failures become BottleErrors through mapSmolvmError. */
export class SmolvmCli {
  readonly bin: string;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly onCommand: ((argv: string[]) => void) | undefined;

  constructor(options: SmolvmCliOptions = {}) {
    this.bin = options.bin ?? smolvmBin();
    this.env = options.env;
    this.onCommand = options.onCommand;
  }

  /** Runs and returns the result whatever the exit code (never throws for a non-zero exit). */
  async try(argv: string[], input?: string | Uint8Array): Promise<RunResult> {
    this.onCommand?.(argv);
    try {
      const r = await execa(this.bin, argv, {
        reject: false,
        stripFinalNewline: false,
        ...(this.env ? { env: this.env } : {}),
        ...(input !== undefined ? { input } : { stdin: "ignore" }),
      });
      if (r.failed && r.exitCode === undefined) throw r;
      return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") throw smolvmNotFoundError(this.bin, error);
      throw error;
    }
  }

  /** Runs and throws a mapped BottleError on a non-zero exit. */
  async run(argv: string[], input?: string | Uint8Array): Promise<RunResult> {
    const r = await this.try(argv, input);
    if (r.exitCode !== 0) throw mapSmolvmError({ argv, exitCode: r.exitCode, stderr: r.stderr, stdout: r.stdout });
    return r;
  }

  /** Runs with the terminal attached (interactive agent sessions); resolves with the exit code. */
  async attach(argv: string[]): Promise<number> {
    this.onCommand?.(argv);
    try {
      const r = await execa(this.bin, argv, { stdio: "inherit", reject: false, ...(this.env ? { env: this.env } : {}) });
      return r.exitCode ?? 1;
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") throw smolvmNotFoundError(this.bin, error);
      throw error;
    }
  }
}
