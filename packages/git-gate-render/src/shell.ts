/** Single-quotes a value for POSIX sh: safe for any byte sequence except NUL. */
export function shq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A git ref glob as a `case` pattern: literal parts quoted, `*` and `?` left active.
 * (In `case`, `*` also matches `/`, so `refs/heads/agent/*` covers nested names too.)
 */
export function casePattern(glob: string): string {
  return glob
    .split(/([*?])/)
    .filter((part) => part !== "")
    .map((part) => (part === "*" || part === "?" ? part : shq(part)))
    .join("");
}

/** A branch name or ref glob as a full ref pattern (`main` → `refs/heads/main`). */
export function fullRef(pattern: string): string {
  return pattern.startsWith("refs/") ? pattern : `refs/heads/${pattern}`;
}
