import subprocess
import sys
from pathlib import Path

from tests.support.processes import REPO_ROOT, project_env


def run_cli(var_dir: Path) -> str:
    env = project_env(VAR_DIR=str(var_dir), DATABASE_URL=f"sqlite:///{var_dir / 'cli.db'}")
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "create-demo-admin"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def test_demo_admin_is_created_once_and_printed_every_time(tmp_path: Path) -> None:
    first = run_cli(tmp_path)
    second = run_cli(tmp_path)
    assert first.startswith("Demo admin: admin@arvlite.local / ")
    assert second == first
    assert (tmp_path / "demo-admin.txt").stat().st_mode & 0o777 == 0o600
