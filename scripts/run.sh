#!/usr/bin/env bash
# `make run`: migrate, create the demo admin, then run the API, a Celery worker and beat
# together; Ctrl-C (or SIGTERM to make or to the whole group) stops all three, their children
# included, within RUN_STOP_GRACE_SECONDS plus a moment. Uses SQLite and local storage under ARV/var unless
# DATABASE_URL / REDIS_URL say otherwise. HOST/PORT (environment or .env) pick the address;
# links the API hands out follow them unless API_PUBLIC_URL / PUBLIC_BASE_URL are set.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh run
export PYTHONPATH="$PWD/ARV${PYTHONPATH:+:$PYTHONPATH}"
var_dir=${VAR_DIR:-$PWD/ARV/var}
mkdir -p "$var_dir"

# The bind address comes from the same Settings the links are derived from, so the two
# cannot disagree (a PORT in .env included).
address=$(.venv/bin/python -c 'from app.core.config import get_settings as s
print(s().HOST, s().PORT, s().API_PUBLIC_URL)')
read -r host port api_url <<<"$address"

.venv/bin/alembic upgrade head
.venv/bin/python -m app.cli create-demo-admin

celery=(.venv/bin/celery -A app.background_tasks.celery_app:celery_app)
stop_grace=${RUN_STOP_GRACE_SECONDS:-10}
pids=()

# Every process below the given ones (the worker's pool processes, ffmpeg), from /proc.
descendants() {
  local pid child
  for pid in "$@"; do
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
      echo "$child"
      descendants "$child"
    done
  done
}

# True while any of the given processes runs (a zombie no longer does).
any_running() {
  local pid stat
  for pid in "$@"; do
    stat=$(cat /proc/"$pid"/stat 2>/dev/null) || continue
    [[ $stat =~ \)\ ([A-Z]) ]] && [ "${BASH_REMATCH[1]}" != Z ] && return 0
  done
  return 1
}

# SIGTERM to each: the worker hands running video jobs back, uvicorn and beat exit. Should
# any of them hang regardless, whatever is left after the grace period is killed, its
# children included.
stop_all() {
  trap - EXIT
  # make passes a SIGTERM on to this script even while it stops; a second signal must not
  # end the script with its children still running.
  trap '' INT TERM
  local tree
  tree=("${pids[@]}" $(descendants "${pids[@]}"))
  kill -TERM "${pids[@]}" 2>/dev/null || true
  local deadline=$((SECONDS + stop_grace))
  while any_running "${tree[@]}" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  if any_running "${tree[@]}"; then
    echo "==> still running after ${stop_grace}s; killing what is left" >&2
    kill -KILL "${tree[@]}" $(descendants "${tree[@]}") 2>/dev/null || true
  fi
  wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

# In a session of its own: a signal to make's process group must not reach the pool
# processes directly. Killed while idle, a pool process of the filesystem broker's blocking
# pool can die holding the queue's lock, and the worker then hangs in billiard's
# _help_stuff_finish at exit. Told by SIGTERM below, the worker stops its pool itself and
# hands running video jobs back (app/background_tasks/shutdown.py).
setsid "${celery[@]}" worker -Q media,default,notifications --concurrency 2 -l INFO &
pids+=($!)
"${celery[@]}" beat -l INFO --schedule "$var_dir/celerybeat-schedule" &
pids+=($!)
.venv/bin/uvicorn app.main:app --host "$host" --port "$port" &
pids+=($!)

echo "==> API on $api_url (docs at /docs); Ctrl-C stops everything"
# Any one of them exiting stops the others.
wait -n "${pids[@]}"
