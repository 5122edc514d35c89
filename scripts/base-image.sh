#!/usr/bin/env bash
# Build the offline base image bottle/base:bookworm when it is not present yet:
# debootstrap --variant=minbase bookworm from the Debian mirror apt uses on this host,
# then `docker import`. The finished root filesystem is cached as a tarball under
# $BOTTLE_CACHE_DIR (default /var/cache/bottle) so a re-import takes seconds.
#   --force   rebuild the image (and the cached rootfs) even when present
set -euo pipefail

tag="${BOTTLE_BASE_IMAGE:-bottle/base:bookworm}"
suite=bookworm
cache_dir="${BOTTLE_CACHE_DIR:-/var/cache/bottle}"
force=0
[ "${1:-}" = "--force" ] && force=1

say() { printf 'base-image: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers; run: bash scripts/docker-engine.sh"

if [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  say "$tag present ($(docker image inspect --format '{{.Id}}' "$tag" | cut -c1-19))"
  exit 0
fi

# The mirror apt uses here (deb822 .sources first, then one-line sources.list).
find_uri() { # $1 = path suffix to match (debian | debian-security)
  local want="$1" f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri="$(awk -v want="$want" '
      /^URIs:/ { for (i = 2; i <= NF; i++) { u = $i; sub(/\/+$/, "", u); n = split(u, p, "/"); if (p[n] == want) { print u; exit } } }' "$f")"
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri="$(awk -v want="$want" '
      $1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { u = $i; sub(/\/+$/, "", u); n = split(u, p, "/"); if (p[n] == want) { print u; exit } ; break } }' "$f")"
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
}

mirror="${BOTTLE_DEBIAN_MIRROR:-$(find_uri debian)}"
mirror="${mirror:-http://deb.debian.org/debian}"
security="${BOTTLE_DEBIAN_SECURITY_MIRROR:-$(find_uri debian-security)}"
security="${security:-http://deb.debian.org/debian-security}"

key="$(printf '%s %s %s v1' "$suite" "$mirror" "$security" | sha256sum | cut -c1-12)"
rootfs_tar="$cache_dir/base-$suite-$key.tar"

start=$(date +%s)
if [ "$force" = 1 ] || [ ! -s "$rootfs_tar" ]; then
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap not installed; run: bash scripts/setup.sh"
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  mkdir -p "$cache_dir"
  work="$(mktemp -d "${TMPDIR:-/tmp}/bottle-base.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  root="$work/root"
  say "debootstrap --variant=minbase $suite from $mirror (about a minute)"
  if ! debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    die "debootstrap failed (mirror $mirror)"
  fi

  # apt inside the image uses the same mirror as this host.
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Container-friendly apt/dpkg: no daemons started by postinst, no docs/man pages,
  # no recommends, caches cleaned after each install (as the official debian images do).
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/bottle-excludes" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$root/etc/apt/apt.conf.d/90bottle" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
EOF
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/log/* "$root"/tmp/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
  : >"$root/etc/hostname"
  : >"$root/etc/resolv.conf"

  tar --numeric-owner --xattrs -C "$root" -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work"
  trap - EXIT
  say "root filesystem cached at $rootfs_tar ($(du -h "$rootfs_tar" | cut -f1))"
else
  say "using cached root filesystem $rootfs_tar"
fi

docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["bash"]' \
  --change 'LABEL dev.bottle.base=1' \
  --change "LABEL dev.bottle.base.mirror=$mirror" \
  --message "debootstrap --variant=minbase $suite $mirror" \
  "$rootfs_tar" "$tag" >/dev/null
say "$tag built in $(( $(date +%s) - start ))s, size $(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')"
