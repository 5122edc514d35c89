#!/usr/bin/env bash
# Set up a development/CI machine (Debian 12, root): system packages, pnpm, workspace
# dependencies, build. Idempotent: a warm run skips apt entirely and only re-runs the
# (cached) install and build.
#   BOTTLE_SETUP_SKIP_BUILD=1   stop after `pnpm install`
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.4.2
APT_PACKAGES=(docker.io docker-compose debootstrap openssh-server git mitmproxy wrk tini iproute2 ca-certificates curl debian-archive-keyring chromium tmux runsc)

say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

command -v node >/dev/null 2>&1 || die "Node.js 20 (>=20.11) is required and not on PATH"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=11)?0:1)' \
  || die "Node.js >=20.11 required, found $(node -v)"

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get to install them"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  say "installing: ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  # policy-rc.d-less hosts without systemd: postinst scripts may fail to start services;
  # we start dockerd ourselves (scripts/docker-engine.sh).
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  say "system packages present"
fi

if [ "$(pnpm -v 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  say "installing pnpm@$PNPM_VERSION"
  npm i -g "pnpm@$PNPM_VERSION"
  hash -r
fi

say "pnpm install --frozen-lockfile"
pnpm install --frozen-lockfile

if [ "${BOTTLE_SETUP_SKIP_BUILD:-0}" != 1 ]; then
  say "pnpm build"
  pnpm build
fi
say "done"
