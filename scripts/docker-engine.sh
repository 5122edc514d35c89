#!/usr/bin/env bash
# Bring up a Docker engine when none answers. Works without systemd (CI containers):
# starts dockerd in the background, logs to $BOTTLE_DOCKERD_LOG, waits for `docker info`.
# Storage driver: overlay2 when the kernel/filesystem take it, vfs otherwise
# (override with BOTTLE_DOCKER_STORAGE_DRIVER=overlay2|vfs).
set -euo pipefail

log="${BOTTLE_DOCKERD_LOG:-/var/log/dockerd.log}"
timeout_s="${BOTTLE_DOCKERD_TIMEOUT:-60}"

say() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# gVisor (agent.runtime "runsc"): list Debian's runsc under `runtimes` in daemon.json.
# "--network=host" makes runsc use the container's own network namespace (docker's
# networks, bottle's iptables fence); without it runsc refuses with "cannot run with
# network enabled in root network namespace". Returns 0 when daemon.json changed.
register_runsc() {
  local runsc conf=/etc/docker/daemon.json
  runsc="$(command -v runsc 2>/dev/null)" || { say "runsc not installed; agent.runtime \"runsc\" unavailable"; return 1; }
  [ -w /etc/docker ] || [ "$(id -u)" = 0 ] || { say "cannot write $conf (not root); register runsc yourself (see packages/backend-docker/README.md)"; return 1; }
  mkdir -p /etc/docker
  RUNSC="$runsc" CONF="$conf" node -e '
    const fs = require("fs");
    const file = process.env.CONF;
    let conf = {};
    try { conf = JSON.parse(fs.readFileSync(file, "utf8")); } catch (e) { if (e.code !== "ENOENT") throw e; }
    const want = { path: process.env.RUNSC, runtimeArgs: ["--network=host"] };
    if (JSON.stringify(conf.runtimes?.runsc) === JSON.stringify(want)) process.exit(1);
    conf.runtimes = { ...(conf.runtimes ?? {}), runsc: want };
    fs.writeFileSync(file + ".tmp", JSON.stringify(conf, null, 2) + "\n");
    fs.renameSync(file + ".tmp", file);
  ' || return 1
  say "registered runsc ($runsc) in $conf"
  return 0
}

if docker info >/dev/null 2>&1; then
  say "engine already running ($(docker info --format '{{.ServerVersion}} {{.Driver}}'))"
  if register_runsc; then
    # SIGHUP makes dockerd re-read daemon.json's runtimes; running containers are untouched
    dpid="$(pidof dockerd 2>/dev/null | awk '{print $1}')"
    if [ -n "$dpid" ] && kill -HUP "$dpid" 2>/dev/null; then
      for _ in $(seq 1 20); do
        docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' && { say "engine reloaded: runsc available"; break; }
        sleep 0.5
      done
    else
      say "could not signal dockerd; reload it yourself (kill -HUP <dockerd pid>) to use runsc"
    fi
  fi
  exit 0
fi
register_runsc || true

command -v dockerd >/dev/null 2>&1 || die "dockerd not found; install docker.io (bash scripts/setup.sh)"
[ "$(id -u)" = 0 ] || die "starting dockerd needs root; start the engine yourself or re-run as root"

# Try systemd first when it actually runs as PID 1.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  if systemctl start docker >/dev/null 2>&1; then
    for _ in $(seq 1 "$timeout_s"); do
      docker info >/dev/null 2>&1 && { say "engine started by systemd"; exit 0; }
      sleep 1
    done
  fi
  say "systemctl start docker did not bring the engine up; starting dockerd directly"
fi

if ! touch "$log" 2>/dev/null; then
  log="$(mktemp -t dockerd.XXXXXX.log)"
fi

# overlay2 needs the overlay module and a backing fs that supports it (not overlay itself).
overlay_works() {
  local d; d="$(mktemp -d /var/lib/.bottle-overlay-probe.XXXXXX)" || return 1
  mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"
  local ok=1
  if mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null; then
    ok=0; umount "$d/m" || true
  fi
  rm -rf "$d"
  return "$ok"
}

driver="${BOTTLE_DOCKER_STORAGE_DRIVER:-}"
if [ -z "$driver" ]; then
  if [ -d /var/lib/docker/vfs ] && [ ! -d /var/lib/docker/overlay2 ]; then
    driver=vfs   # keep what an earlier run chose, its images live there
  elif overlay_works; then
    driver=overlay2
  else
    say "overlay mount failed here; falling back to the vfs storage driver (slower, more disk)"
    driver=vfs
  fi
fi

# containerd: dockerd starts its own when none is running.
say "starting dockerd (storage driver $driver), log: $log"
# setsid: the engine must outlive the shell (and process group) that started it
setsid nohup dockerd --storage-driver="$driver" >>"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" >/run/bottle-dockerd.pid 2>/dev/null || true

for _ in $(seq 1 "$timeout_s"); do
  if docker info >/dev/null 2>&1; then
    say "engine up after start (pid $pid, $(docker info --format '{{.ServerVersion}} {{.Driver}}'))"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 30 "$log" >&2 || true
    die "dockerd exited during start-up (see $log)"
  fi
  sleep 1
done
tail -n 30 "$log" >&2 || true
die "dockerd did not answer 'docker info' within ${timeout_s}s (see $log)"
