"""Quota under concurrency, against a real uvicorn and real commits: many uploads of one
company starting at the same instant can never reserve more than the plan allows."""

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import Engine, delete

from app.core.config import Settings
from app.core.database import session_scope
from app.core.permissions import Role
from app.models import Company, User
from app.models.company import Plan
from app.services.plans import limits_of_plan
from tests.support.factories import add_member, auth_headers, make_user
from tests.support.processes import free_port, project_env, running, uvicorn_command, wait_until

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
UPLOAD_BYTES = 300 * MIB
CONCURRENT = 8


@pytest.fixture
def owner_headers(engine: Engine, settings: Settings) -> Iterator[tuple[uuid.UUID, dict[str, str]]]:
    with session_scope() as db:
        user = make_user(db)
        company = Company(name="Quota Race", slug=f"quota-{uuid.uuid4().hex[:8]}", settings={})
        db.add(company)
        db.flush()
        add_member(db, company, user, Role.OWNER)
        headers = auth_headers(db, settings, user)
    yield company.id, headers
    with session_scope() as db:
        db.execute(delete(Company).where(Company.id == company.id))
        db.execute(delete(User).where(User.id == user.id))


def test_concurrent_direct_uploads_cannot_exceed_the_plan(
    owner_headers: tuple[uuid.UUID, dict[str, str]], tmp_path: Path
) -> None:
    company_id, headers = owner_headers
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1/companies/{company_id}/storage"
    statuses: list[int] = []
    barrier = threading.Barrier(CONCURRENT)

    def start_upload(index: int) -> None:
        barrier.wait()
        response = httpx2.post(
            f"{base}/uploads",
            json={"filename": f"film-{index}.mp4", "size_bytes": UPLOAD_BYTES},
            headers=headers,
            timeout=30,
        )
        statuses.append(response.status_code)

    with running(uvicorn_command(port), project_env(), tmp_path / "api.log"):
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/health"), 30, "the API")
        threads = [threading.Thread(target=start_upload, args=(i,)) for i in range(CONCURRENT)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        usage = httpx2.get(f"{base}/usage", headers=headers, timeout=10).json()

    with session_scope() as db:
        fits = limits_of_plan(db, Plan.FREE).storage_bytes // UPLOAD_BYTES
    assert sorted(statuses) == [201] * fits + [402] * (CONCURRENT - fits)
    assert usage["reserved_bytes"] == fits * UPLOAD_BYTES
    assert usage["total_bytes"] <= usage["limit_bytes"]


def _answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=2).status_code == 200
    except httpx2.HTTPError:
        return False
