#!/usr/bin/env bash
# A second, "remote" Docker engine for tests and CI, reached over tcp with mutual TLS:
#   network namespace lanes-remote, veth pair 10.77.0.1/24 (here) <-> 10.77.0.2/24 (there),
#   a throwaway CA with server and client certificates (plus a client certificate from a
#   different CA, for the wrong-certificate test), and a dockerd with its own data-root,
#   exec-root and pidfile listening on tcp://10.77.0.2:2376 with --tlsverify.
# dockerd is started with `nsenter --net=…`, not `ip netns exec` (which remounts /sys and
# dockerd then fails with "Devices cgroup isn't mounted").
#   scripts/remote-docker.sh up      # idempotent; prints the env to use
#   scripts/remote-docker.sh down
set -euo pipefail
NS=lanes-remote
STATE=${LANES_REMOTE_STATE:-/tmp/lanes-remote}
CERTS=$STATE/certs
ADDR=10.77.0.2
PORT=2376
log() { printf 'remote-docker: %s\n' "$*" >&2; }

ping_remote() {
  curl -sf --max-time 2 --cacert "$CERTS/ca.pem" --cert "$CERTS/client.pem" --key "$CERTS/client-key.pem" "https://$ADDR:$PORT/_ping" >/dev/null 2>&1
}

make_certs() {
  mkdir -p "$CERTS" && cd "$CERTS"
  [ -s client.pem ] && [ -s wrong-client.pem ] && return 0
  log "making a throwaway CA and certificates in $CERTS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=lanes test CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$ADDR" -keyout server-key.pem -out server.csr 2>/dev/null
  printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$ADDR" >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile server.ext -out server.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=lanes client" -keyout client-key.pem -out client.csr 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile client.ext -out client.pem 2>/dev/null
  # A client certificate signed by another CA: the engine must refuse it.
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=other CA" -keyout other-ca-key.pem -out other-ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=intruder" -keyout wrong-client-key.pem -out wrong.csr 2>/dev/null
  openssl x509 -req -in wrong.csr -CA other-ca.pem -CAkey other-ca-key.pem -CAcreateserial -days 30 -extfile client.ext -out wrong-client.pem 2>/dev/null
  rm -f ./*.csr ./*.srl
}

up() {
  [ "$(id -u)" = 0 ] || { log "must run as root"; exit 5; }
  make_certs
  if ping_remote; then log "already up at tcp://$ADDR:$PORT"; env_out; return 0; fi
  if ! ip netns list | grep -qw "$NS"; then
    ip netns add "$NS"
    ip link add lanes-veth0 type veth peer name lanes-veth1
    ip link set lanes-veth1 netns "$NS"
    ip addr add 10.77.0.1/24 dev lanes-veth0
    ip link set lanes-veth0 up
    ip -n "$NS" addr add "$ADDR/24" dev lanes-veth1
    ip -n "$NS" link set lanes-veth1 up
    ip -n "$NS" link set lo up
  fi
  # A port that drops every packet, for the "engine does not answer" (timeout) test.
  ip netns exec "$NS" iptables -C INPUT -p tcp --dport 2398 -j DROP 2>/dev/null \
    || ip netns exec "$NS" iptables -A INPUT -p tcp --dport 2398 -j DROP
  mkdir -p "$STATE/data" "$STATE/exec"
  if [ -f "$STATE/docker.pid" ] && ! kill -0 "$(cat "$STATE/docker.pid")" 2>/dev/null; then rm -f "$STATE/docker.pid"; fi
  log "starting the remote dockerd (log: $STATE/dockerd.log)"
  setsid nohup nsenter --net="/var/run/netns/$NS" dockerd \
    --data-root "$STATE/data" --exec-root "$STATE/exec" --pidfile "$STATE/docker.pid" \
    -H "tcp://$ADDR:$PORT" -H "unix://$STATE/docker.sock" \
    --tlsverify --tlscacert "$CERTS/ca.pem" --tlscert "$CERTS/server.pem" --tlskey "$CERTS/server-key.pem" \
    --bridge none --iptables=false --ip-masq=false --ip-forward=false \
    >"$STATE/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    if ping_remote; then log "up at tcp://$ADDR:$PORT"; env_out; return 0; fi
    sleep 0.5
  done
  log "the remote dockerd did not answer; last lines of its log:"; tail -n 20 "$STATE/dockerd.log" >&2; exit 5
}

down() {
  if [ -f "$STATE/docker.pid" ]; then
    pid=$(cat "$STATE/docker.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  ip netns del "$NS" 2>/dev/null || true
  ip link del lanes-veth0 2>/dev/null || true
  log "down"
}

env_out() {
  printf 'LANES_REMOTE_URL=tcp://%s:%s\nLANES_REMOTE_CERTS=%s\nLANES_REMOTE_SOCK=%s\n' "$ADDR" "$PORT" "$CERTS" "$STATE/docker.sock"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  env) env_out ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
