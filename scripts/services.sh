#!/usr/bin/env bash
# Start throw-away PostgreSQL 15 and Redis servers for the tests, installing the
# Debian packages when they are missing. Prints `export` lines to eval:
#   eval "$(scripts/services.sh start)"      scripts/services.sh stop
# CROSSPOST_SERVICES_DIR, PG_PORT and REDIS_PORT select another pair of servers (`make faults` runs its own);
# PG_DB another database name (default crosspost), created when missing.
# PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${CROSSPOST_SERVICES_DIR:-/tmp/crosspost-services}
PG_PORT=${PG_PORT:-55432}
REDIS_PORT=${REDIS_PORT:-56379}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}

log() { echo "$*" >&2; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "missing $*: install them (apt-get install $*) or run as root"; exit 1
  fi
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ]; then
    apt-get update -qq >&2
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    apt_install postgresql-15
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  fi
  mkdir -p "$DIR/pg"
  if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$DIR/pg"; fi
  if [ ! -f "$DIR/pg/data/PG_VERSION" ]; then
    as_pg "$PG_BIN/initdb" -D "$DIR/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/pg-initdb.log" 2>&1 \
      || { cat "$DIR/pg-initdb.log" >&2; exit 1; }
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/server.log" -w start \
      -o "-p $PG_PORT -k $DIR/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2 \
      || { cat "$DIR/pg/server.log" >&2; exit 1; }
  fi
}

# The database the printed TEST_DATABASE_URL names: created when missing (the server only has
# "postgres" after initdb), then connected to, so a URL that does not work is never printed.
PG_DB=${PG_DB:-crosspost}
ensure_database() {
  local psql=("$PG_BIN/psql" -h "$DIR/pg" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$(as_pg "${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]; then
    as_pg "$PG_BIN/createdb" -h "$DIR/pg" -p "$PG_PORT" -U postgres "$PG_DB" >&2
  fi
  if ! as_pg "${psql[@]}" -h 127.0.0.1 -d "$PG_DB" -c "SELECT 1" >/dev/null; then
    log "database $PG_DB on 127.0.0.1:$PG_PORT does not accept connections (see $DIR/pg/server.log)"
    exit 1
  fi
}

start_redis() {
  if ! command -v redis-server >/dev/null; then apt_install redis-server; fi
  mkdir -p "$DIR/redis"
  if ! (command -v redis-cli >/dev/null && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1); then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --dir "$DIR/redis" --pidfile "$DIR/redis/redis.pid" --logfile "$DIR/redis/redis.log" >&2
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
}

case "${1:-start}" in
  start)
    start_postgres
    ensure_database
    start_redis
    echo "export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB"
    echo "export TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
    ;;
  stop)
    [ -n "$PG_BIN" ] && as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m fast stop >/dev/null 2>&1 || true
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    ;;
  # Faults for `make faults`: every client connection is dropped; Redis also loses its data.
  restart-postgres)
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/server.log" -m fast -w restart >/dev/null
    ;;
  restart-redis)
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    sleep "${REDIS_DOWN_SECONDS:-2}"
    start_redis
    ;;
  *) echo "usage: $0 start|stop|restart-postgres|restart-redis" >&2; exit 2 ;;
esac
