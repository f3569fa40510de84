.PHONY: run test bench migrate lint format typecheck

run:  ## API + worker + beat on http://localhost:8000, set up from scratch if needed
	bash scripts/run.sh

test:  ## lint, type-check and the full suite against throwaway PostgreSQL and Redis
	bash scripts/test.sh

bench:  ## benchmark scripts (ARV/bench/README.md) against throwaway PostgreSQL and Redis
	bash ARV/bench/run.sh

migrate:  ## apply migrations to DATABASE_URL (once per deploy)
	bash scripts/bootstrap.sh run
	.venv/bin/alembic upgrade head

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

typecheck:
	.venv/bin/mypy
