#!/usr/bin/env bash
# `make test`: install what tests need, start throwaway PostgreSQL and Redis, lint, type-check
# and run the suite with coverage; the servers are stopped whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh test

services_dir=$(mktemp -d /tmp/arvlite-test.XXXXXX)
trap 'scripts/test_services.sh stop "$services_dir"' EXIT
scripts/test_services.sh start "$services_dir"
# shellcheck disable=SC1091
source "$services_dir/env"

echo "==> ruff check";          .venv/bin/ruff check .
echo "==> ruff format --check"; .venv/bin/ruff format --check .
echo "==> mypy ARV/app";        .venv/bin/mypy
echo "==> pytest"
.venv/bin/pytest --cov --cov-report=term "$@"
