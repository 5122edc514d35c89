/** Not an error: the agent's (or an exec'd command's) exit code, passed through as ours. */
export class PassExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
    this.name = "PassExitCode";
  }
}
