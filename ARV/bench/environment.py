"""Where a benchmark runs, settled before anything from `app` is imported (the application
reads its settings at import): its own database on the PostgreSQL server named by
TEST_DATABASE_URL, the Redis at TEST_REDIS_URL, and a temporary VAR_DIR with local storage.
`scripts/test_services.sh start DIR` starts both servers and writes those URLs to DIR/env."""

import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class BenchEnvironment:
    admin_url: str
    """A maintenance database on the server, to create and drop the bench's own."""
    database_url: str
    var_dir: Path

    def remove_var_dir(self) -> None:
        shutil.rmtree(self.var_dir, ignore_errors=True)


def prepare(name: str) -> BenchEnvironment:
    """Point the application (this process and the ones it starts) at throwaway state."""
    admin_url = os.environ.get("TEST_DATABASE_URL", "")
    redis_url = os.environ.get("TEST_REDIS_URL", "")
    if not admin_url.startswith("postgresql") or not redis_url:
        sys.exit(
            "Benchmarks need a real PostgreSQL and Redis: run `make bench`, or "
            "`scripts/test_services.sh start DIR && source DIR/env` first."
        )
    run_id = uuid.uuid4().hex[:8]
    environment = BenchEnvironment(
        admin_url=admin_url,
        database_url=f"{admin_url.rsplit('/', 1)[0]}/arv_bench_{name}_{run_id}",
        var_dir=Path(tempfile.mkdtemp(prefix=f"arvlite-bench-{name}-")),
    )
    os.environ.update(
        ENV="test",
        DATABASE_URL=environment.database_url,
        REDIS_URL=redis_url,
        VAR_DIR=str(environment.var_dir),
        STORAGE_PROVIDER="local",
        STORAGE_LOCAL_ROOT=str(environment.var_dir / "storage"),
    )
    return environment
