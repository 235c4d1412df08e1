#!/usr/bin/env bash
# Ensure a Docker engine answers on the local socket.
# Idempotent: returns at once when `docker info` already works. On Debian/Ubuntu as root it
# installs Debian's docker.io package if dockerd is missing and starts dockerd in the
# background (there is no systemd here); elsewhere it prints how to start one and exits 5.
set -euo pipefail

log() { printf 'ensure-docker: %s\n' "$*" >&2; }
sock=${LANES_DOCKER_SOCK:-/var/run/docker.sock}

engine_up() { docker -H "unix://$sock" info >/dev/null 2>&1 || curl -sf --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; }

if engine_up; then log "Docker engine is up ($sock)"; exit 0; fi

is_debian() { [ -r /etc/os-release ] && grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release; }

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
  if engine_up; then log "Docker engine is up ($sock)"; exit 0; fi
  sleep 0.5
done
log "dockerd did not answer within 60 s; last lines of $logfile:"
tail -n 20 "$logfile" >&2 || true
exit 5
