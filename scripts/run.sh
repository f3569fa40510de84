#!/usr/bin/env bash
# `make run`: migrate, create the demo admin, then run the API, a Celery worker and beat
# together; Ctrl-C stops all three. Uses SQLite and local storage under ARV/var unless
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
pids=()
stop_all() {
  trap - INT TERM EXIT
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop_all INT TERM EXIT

"${celery[@]}" worker -Q media,default,notifications --concurrency 2 -l INFO &
pids+=($!)
"${celery[@]}" beat -l INFO --schedule "$var_dir/celerybeat-schedule" &
pids+=($!)
.venv/bin/uvicorn app.main:app --host "$host" --port "$port" &
pids+=($!)

echo "==> API on $api_url (docs at /docs); Ctrl-C stops everything"
# Any one of them exiting stops the others.
wait -n "${pids[@]}"
