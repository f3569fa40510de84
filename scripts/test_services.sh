#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis on free loopback ports, for one test run.
#   scripts/test_services.sh start DIR   start both, write DIR/env (source it)
#   scripts/test_services.sh stop DIR    stop both and delete DIR
# PostgreSQL refuses to run as root, so as root the cluster runs as an unprivileged user.
set -euo pipefail

action=${1:?usage: $0 start|stop DIR}
dir=${2:?usage: $0 start|stop DIR}
pg_os_user=arvtest

pg_bin() {
  local bins=(/usr/lib/postgresql/*/bin)
  echo "${bins[-1]}"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_pg_user() {
  # From /: the unprivileged user may not be allowed into the current directory.
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u "$pg_os_user" -- "$@"); else "$@"; fi
}

start() {
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    id "$pg_os_user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_os_user"
    chown "$pg_os_user" "$dir"
  fi
  local pg_port redis_port bin
  pg_port=$(free_port)
  redis_port=$(free_port)
  bin=$(pg_bin)

  as_pg_user "$bin/initdb" -D "$dir/pg" -U arv --auth=trust -E UTF8 --no-sync >/dev/null
  # Durability is pointless for a throwaway cluster; skipping fsync makes tests faster.
  as_pg_user "$bin/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $pg_port -k $dir/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null

  redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
    --maxmemory-policy noeviction --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
  for _ in $(seq 50); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$redis_port" ping >/dev/null

  cat >"$dir/env" <<ENV
export TEST_DATABASE_URL=postgresql+psycopg2://arv@127.0.0.1:$pg_port/postgres
export TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0
ENV
  echo "==> PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port"
}

stop() {
  [ -d "$dir" ] || return 0
  if [ -f "$dir/pg/postmaster.pid" ]; then
    as_pg_user "$(pg_bin)/pg_ctl" -D "$dir/pg" -m immediate -w stop >/dev/null || true
  fi
  if [ -f "$dir/redis.pid" ]; then
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
