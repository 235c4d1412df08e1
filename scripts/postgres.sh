#!/usr/bin/env bash
# A real PostgreSQL server for lanes' tests and for trying the team store, idempotent:
#  - installs Debian's postgresql package where it is missing (root);
#  - creates a cluster in $LANES_PG_DIR (default /var/lib/lanes-postgres) owned by `postgres`;
#  - starts it in the background on 127.0.0.1:$LANES_PG_PORT (default 55432) with password
#    authentication over TCP, and a role and database `lanes` (password `lanes`) that may create
#    databases (tests make one each);
#  - prints LANES_TEST_PG_URL=postgres://lanes:lanes@127.0.0.1:PORT/lanes.
# A second call finds it running and only prints the URL.
#   scripts/postgres.sh            # start (if needed)
#   scripts/postgres.sh stop       # stop it
#   scripts/postgres.sh crash      # stop it as a crash would (immediate: no flush, no checkpoint)
set -euo pipefail
DIR=${LANES_PG_DIR:-/var/lib/lanes-postgres}
PORT=${LANES_PG_PORT:-55432}
log() { printf 'postgres: %s\n' "$*" >&2; }

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ]; then
  [ "$(id -u)" = 0 ] || { log "postgresql is not installed (apt-get install postgresql)"; exit 1; }
  log "installing Debian's postgresql package"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "${1:-}" = stop ]; then
  as_pg "$bin/pg_ctl" -D "$DIR" stop -m fast >/dev/null 2>&1 || true
  exit 0
fi
# As a crash: the server's processes killed at once, what it had not written to disk lost (tests).
if [ "${1:-}" = crash ]; then
  as_pg "$bin/pg_ctl" -D "$DIR" stop -m immediate >/dev/null 2>&1 || true
  exit 0
fi

if [ ! -s "$DIR/PG_VERSION" ]; then
  log "creating a cluster in $DIR"
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
  as_pg "$bin/initdb" -D "$DIR" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $PORT"
    echo "unix_socket_directories = '$DIR'"
    echo "max_connections = 200"
    echo "fsync = on"
  } >>"$DIR/postgresql.conf"
fi

if ! as_pg "$bin/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
  log "starting on 127.0.0.1:$PORT"
  as_pg "$bin/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start >/dev/null
fi

psql_admin() { as_pg "$bin/psql" -h "$DIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'lanes'")" != 1 ]; then
  psql_admin -c "CREATE ROLE lanes LOGIN CREATEDB PASSWORD 'lanes'"
  psql_admin -c "CREATE DATABASE lanes OWNER lanes"
fi
printf 'LANES_TEST_PG_URL=postgres://lanes:lanes@127.0.0.1:%s/lanes\n' "$PORT"
