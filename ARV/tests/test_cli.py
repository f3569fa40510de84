import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select

from app.core.database import session_scope
from app.models import Company
from app.models.audit import AuditLog
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


@pytest.fixture
def committed_company(engine: Engine) -> Iterator[Company]:
    """A company the CLI (another process) can see: committed, and deleted afterwards
    (its audit entries go with it)."""
    with session_scope() as db:
        company = Company(name="Operator Test", slug=f"operator-{uuid.uuid4().hex[:8]}")
        db.add(company)
    yield company
    with session_scope() as db:
        db.execute(delete(Company).where(Company.id == company.id))


def set_plan(company: str, plan: str) -> subprocess.CompletedProcess[str]:
    # The same PostgreSQL database the test session migrated (DATABASE_URL from conftest).
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "set-plan", company, plan],
        cwd=REPO_ROOT,
        env=project_env(LOGNAME="ops-alice", USER="ops-alice"),
        capture_output=True,
        text=True,
        timeout=60,
    )


def plan_entries(company_id: uuid.UUID) -> list[AuditLog]:
    with session_scope() as db:
        return list(
            db.scalars(
                select(AuditLog).where(
                    AuditLog.company_id == company_id, AuditLog.action == "company.plan_changed"
                )
            )
        )


def stored_plan(company_id: uuid.UUID) -> str:
    with session_scope() as db:
        company = db.get(Company, company_id)
        assert company is not None
        return company.plan


@pytest.mark.integration
def test_set_plan_by_slug_or_id_changes_the_plan_and_audits_the_operator(
    committed_company: Company,
) -> None:
    company = committed_company
    by_slug = set_plan(company.slug, "pro")
    assert by_slug.returncode == 0, by_slug.stderr
    assert by_slug.stdout == (f"Operator Test ({company.slug}, {company.id}): plan free -> pro\n")
    assert stored_plan(company.id) == "pro"

    by_id = set_plan(str(company.id), "business")
    assert by_id.returncode == 0, by_id.stderr
    assert "plan pro -> business" in by_id.stdout
    assert stored_plan(company.id) == "business"

    again = set_plan(company.slug, "business")
    assert again.returncode == 0, again.stderr
    assert "already on plan business; nothing changed" in again.stdout

    entries = sorted(plan_entries(company.id), key=lambda entry: entry.created_at)
    assert [entry.changes for entry in entries] == [
        {
            "before": {"plan": "free"},
            "after": {"plan": "pro"},
            "via": "cli",
            "os_user": "ops-alice",
        },
        {
            "before": {"plan": "pro"},
            "after": {"plan": "business"},
            "via": "cli",
            "os_user": "ops-alice",
        },
    ]
    # No platform user acted: the entry has no actor rather than a made-up one.
    assert all(entry.actor_user_id is None for entry in entries)


@pytest.mark.integration
def test_set_plan_refuses_an_unknown_company_or_plan(committed_company: Company) -> None:
    unknown_company = set_plan("no-such-company", "pro")
    assert unknown_company.returncode == 1
    assert unknown_company.stdout == ""
    assert "Company not found" in unknown_company.stderr
    assert "no-such-company" in unknown_company.stderr

    unknown_plan = set_plan(committed_company.slug, "enterprise")
    assert unknown_plan.returncode == 1
    assert "Unknown plan 'enterprise'; choose one of free, pro, business" in unknown_plan.stderr

    assert stored_plan(committed_company.id) == "free"
    assert plan_entries(committed_company.id) == []
