#!/usr/bin/env bash
# The whole test run, from a fresh clone (CI: `.ci/run`, as root, CI=true, no stdin):
#   setup → docker engine → build → images → typecheck → dependency rules → publish dry run
#   → unit → integration (which includes the install-from-tarballs test)
# Prerequisite phases stop the run at the first failure; the checking phases all run and
# the script exits non-zero if any failed. Prints wall time per phase and test counts.
set -uo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

export CI="${CI:-}"
export NO_COLOR=1
unset FORCE_COLOR
# vitest 5 needs Map.groupBy/Object.groupBy (Node 21+) to report failures on Node 20.
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--import=$repo/scripts/node-compat.mjs"

# Tests commit with host git; a fresh machine may have no identity configured.
if ! git config --get user.email >/dev/null 2>&1; then
  export GIT_AUTHOR_NAME="bottle tests" GIT_AUTHOR_EMAIL="tests@bottle.invalid"
  export GIT_COMMITTER_NAME="bottle tests" GIT_COMMITTER_EMAIL="tests@bottle.invalid"
fi

logs="$(mktemp -d "${TMPDIR:-/tmp}/bottle-test.XXXXXX")"
declare -a summary=()
failed=0
run_started=$(date +%s)

phase() { # name, critical(0/1), command...
  local name="$1" critical="$2"; shift 2
  local log="$logs/$name.log" start end rc
  printf '\n=== %s ===\n' "$name"
  start=$(date +%s.%N)
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  end=$(date +%s.%N)
  local secs; secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  local counts=""
  if grep -q 'Tests ' "$log"; then
    counts="$(sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '/^ *Test Files /{sub(/^ *Test Files +/,""); f=$0} /^ *Tests /{sub(/^ *Tests +/,""); t=$0} END { if (t != "") printf "tests: %s; files: %s", t, f }' | tr '|' ',')"
  fi
  if [ "$rc" = 0 ]; then
    summary+=("$(printf '| %-18s | ok     | %7ss | %s |' "$name" "$secs" "$counts")")
  else
    failed=1
    summary+=("$(printf '| %-18s | FAILED | %7ss | %s (exit %s; log %s) |' "$name" "$secs" "$counts" "$rc" "$log")")
    if [ "$critical" = 1 ]; then
      report
      printf '\n%s failed; stopping.\n' "$name" >&2
      exit 1
    fi
  fi
}

report() {
  printf '\n| phase              | result | wall     | details |\n|---|---|---|---|\n'
  printf '%s\n' "${summary[@]}"
  printf '\ntotal wall time: %ss\n' "$(( $(date +%s) - run_started ))"
}

build_images() {
  # Builds behind a TLS-intercepting proxy need its CA (npm registry access).
  local ca="${BOTTLE_EXTRA_CA_BUNDLE:-${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}}"
  local ca_args=()
  [ -n "$ca" ] && [ -f "$ca" ] && ca_args=(--extra-ca "$ca")
  # CI has no image registry: always the offline debootstrap base.
  node apps/cli/dist/bin.js build --offline-base --verbose "${ca_args[@]}"
}

check_deps() {
  if [ -f tools/check-deps.mjs ]; then
    pnpm check:deps
  else
    echo "tools/check-deps.mjs not present yet; skipped"
  fi
}

phase setup 1 env BOTTLE_SETUP_SKIP_BUILD=1 bash scripts/setup.sh
phase docker-engine 1 bash scripts/docker-engine.sh
phase build 1 pnpm build
phase images 1 build_images
phase typecheck 0 pnpm typecheck
phase check-deps 0 check_deps
phase publish-dry-run 0 pnpm publish:check
phase unit 0 pnpm test:unit
phase integration 0 pnpm test:integration

report
if [ "$failed" != 0 ]; then
  printf '\nSOME PHASES FAILED (logs in %s)\n' "$logs" >&2
  exit 1
fi
rm -rf "$logs"
printf '\nall phases passed\n'
