#!/usr/bin/env bash
# `make bench`: throwaway PostgreSQL and Redis, every benchmark in turn (never two at once:
# they measure wall time on a small machine), then the servers are stopped whatever happens.
# A benchmark that crashes does not stop the others; the exit status reports it.
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/bootstrap.sh test  # ffmpeg, PostgreSQL, Redis, and what tests/support imports
# The viewer manifest bench drives the API with wrk (Debian's package).
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo=sudo; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

services_dir=$(mktemp -d /tmp/arvlite-bench.XXXXXX)
trap 'scripts/test_services.sh stop "$services_dir"' EXIT
scripts/test_services.sh start "$services_dir"
# shellcheck disable=SC1091
source "$services_dir/env"

status=0
for bench in pipeline_overhead time_to_playable upload_throughput marker_processing markers viewer_manifest live_sockets; do
  echo "==> $bench"
  PYTHONPATH=ARV .venv/bin/python "ARV/bench/$bench.py" || status=1
done
exit "$status"
