#!/usr/bin/env bash
# Ensure a Docker engine answers on the local socket.
# Idempotent: returns at once when `docker info` already works. On Debian/Ubuntu as root it
# installs Debian's docker.io package if dockerd is missing and starts dockerd in the
# background (there is no systemd here); elsewhere it prints how to start one and exits 5.
set -euo pipefail

log() { printf 'ensure-docker: %s\n' "$*" >&2; }
sock=${LANES_DOCKER_SOCK:-/var/run/docker.sock}

engine_up() { docker -H "unix://$sock" info >/dev/null 2>&1 || curl -sf --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; }

# gVisor for profiles with `runtime: runsc` (the built-in `strict` one): Debian's runsc package,
# registered with the engine by `runsc install` (it edits /etc/docker/daemon.json) and a SIGHUP
# (dockerd reloads its runtimes live). Skipped with LANES_NO_GVISOR=1; never fatal.
register_runsc() {
  [ "${LANES_NO_GVISOR:-}" = 1 ] && return 0
  docker -H "unix://$sock" info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' && return 0
  [ "$(id -u)" = 0 ] || { log "gVisor: runsc is not registered with this engine (as root: apt-get install runsc && runsc install)"; return 0; }
  if ! command -v runsc >/dev/null 2>&1; then
    is_debian || { log "gVisor: install runsc to use runtime: runsc"; return 0; }
    log "installing Debian's runsc package (gVisor)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runsc >/dev/null 2>&1 || { log "gVisor: apt-get install runsc failed"; return 0; }
  fi
  # --network=host: gVisor uses the network namespace Docker made for the container (with `none`,
  # loopback only) instead of its own netstack, which cannot set up inside some VMs.
  runsc install -- --network=host >/dev/null 2>&1 || { log "gVisor: runsc install failed"; return 0; }
  pid=$(cat /var/run/docker.pid 2>/dev/null || pidof dockerd || true)
  [ -n "$pid" ] && kill -HUP "$pid"
  for _ in $(seq 1 20); do
    docker -H "unix://$sock" info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' && { log "gVisor (runsc) registered"; return 0; }
    sleep 0.5
  done
  log "gVisor: dockerd did not pick up runsc (restart dockerd to load /etc/docker/daemon.json)"
}

is_debian() { [ -r /etc/os-release ] && grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release; }

if engine_up; then log "Docker engine is up ($sock)"; register_runsc; exit 0; fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && is_debian; then
    log "installing Debian's docker.io package (dockerd not found)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq docker.io >/dev/null
  else
    log "no Docker engine and cannot install one here."
    log "start Docker (Docker Desktop, 'sudo systemctl start docker', or 'sudo dockerd &') and re-run."
    exit 5
  fi
fi

if [ "$(id -u)" != 0 ]; then
  log "dockerd is installed but not running; start it as root: sudo dockerd &  (or sudo systemctl start docker)"
  exit 5
fi

# A stale pidfile from a killed engine stops dockerd from starting.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi
logfile=${LANES_DOCKERD_LOG:-/var/log/lanes-dockerd.log}
log "starting dockerd in the background (log: $logfile)"
setsid nohup dockerd -H "unix://$sock" >"$logfile" 2>&1 </dev/null &

for _ in $(seq 1 120); do
  if engine_up; then log "Docker engine is up ($sock)"; register_runsc; exit 0; fi
  sleep 0.5
done
log "dockerd did not answer within 60 s; last lines of $logfile:"
tail -n 20 "$logfile" >&2 || true
exit 5
