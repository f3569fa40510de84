"""Publishing through the API, as the route tests do it: a content every publish condition
holds for (rows from the factories), and the calls a client makes."""

from typing import Any

import httpx2
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.permissions import Role
from app.models import ARContent, Project, ScheduledVideo, Video
from tests.support.factories import Tenant, make_content, make_marker, make_video


def schedule(db: Session, content: ARContent, video: Video, **window: Any) -> ScheduledVideo:
    entry = ScheduledVideo(
        company_id=content.company_id, ar_content_id=content.id, video_id=video.id, **window
    )
    db.add(entry)
    db.flush()
    return entry


def publishable(
    db: Session, tenant: Tenant, project: Project, title: str = "Postcard", **marker: Any
) -> ARContent:
    """A content every condition of a publish holds for: a ready marker scoring 80 with its
    target compiled, and a ready default video."""
    content = make_content(db, project, title)
    make_marker(db, content, **marker)
    schedule(db, content, make_video(db, tenant.company, f"{title} video"))
    return content


def content_url(content: ARContent, suffix: str = "") -> str:
    return (
        f"/api/v1/companies/{content.company_id}/projects/{content.project_id}"
        f"/ar-contents/{content.id}{suffix}"
    )


def call(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    suffix: str,
    *,
    method: str = "POST",
    role: Role = Role.ADMIN,
    **kwargs: Any,
) -> httpx2.Response:
    return client.request(
        method, content_url(content, suffix), headers=tenant.headers[role], **kwargs
    )


def ok(response: httpx2.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def publish(client: TestClient, tenant: Tenant, content: ARContent) -> dict[str, Any]:
    return ok(call(client, tenant, content, "/publish"), 201)


def edit(client: TestClient, tenant: Tenant, content: ARContent, **fields: Any) -> None:
    ok(call(client, tenant, content, "", method="PATCH", role=Role.EDITOR, json=fields))


def attach(
    client: TestClient, tenant: Tenant, content: ARContent, video: Video, **window: Any
) -> dict[str, Any]:
    body = {"video_id": str(video.id), **window}
    return ok(call(client, tenant, content, "/schedule", role=Role.EDITOR, json=body), 201)
