"""The public actor's view of AR contents: a published content and the one version it
serves, by public id; nothing else, whatever state the content or its project is in."""

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from app.models import ARContent, ARContentVersion, ContentStatus, Project, ProjectStatus
from app.services.public_contents import published_content
from tests.support.factories import make_company, make_content, make_marker, make_project


def _with_versions(db: Session, content: ARContent, served: int | None) -> None:
    marker = make_marker(db, content)
    for number in (1, 2):
        db.add(
            ARContentVersion(
                company_id=content.company_id,
                project_id=content.project_id,
                ar_content_id=content.id,
                number=number,
                marker_id=marker.id,
                snapshot={"title": f"version {number}"},
            )
        )
    content.published_version = served
    db.flush()


@pytest.fixture
def project(db: Session) -> Project:
    return make_project(db, make_company(db))


def test_a_published_content_serves_its_published_version(db: Session, project: Project) -> None:
    content = make_content(db, project, status=ContentStatus.PUBLISHED)
    _with_versions(db, content, served=1)
    found = published_content(db, content.public_id)
    assert found is not None
    assert (found.content.id, found.version.number) == (content.id, 1)


Unpublish = Callable[[Session, ARContent, Project], None]


def _set_status(status: ContentStatus) -> Unpublish:
    def change(db: Session, content: ARContent, project: Project) -> None:
        content.status = status

    return change


def _delete_content(db: Session, content: ARContent, project: Project) -> None:
    content.soft_delete()


def _delete_project(db: Session, content: ARContent, project: Project) -> None:
    project.soft_delete()


@pytest.mark.parametrize(
    "hide",
    [
        _set_status(ContentStatus.DRAFT),
        _set_status(ContentStatus.UNPUBLISHED),
        _set_status(ContentStatus.ARCHIVED),
        _delete_content,
        _delete_project,
    ],
    ids=["draft", "unpublished", "archived", "deleted", "project deleted"],
)
def test_anything_not_on_the_air_is_not_found(
    db: Session, project: Project, hide: Unpublish
) -> None:
    content = make_content(db, project, status=ContentStatus.PUBLISHED)
    _with_versions(db, content, served=2)
    hide(db, content, project)
    db.flush()
    assert published_content(db, content.public_id) is None


def test_an_archived_project_keeps_its_contents_on_the_air(db: Session, project: Project) -> None:
    content = make_content(db, project, status=ContentStatus.PUBLISHED)
    _with_versions(db, content, served=2)
    project.status = ProjectStatus.ARCHIVED
    db.flush()
    found = published_content(db, content.public_id)
    assert found is not None
    assert found.version.number == 2


def test_unknown_public_ids_are_not_found(db: Session, project: Project) -> None:
    assert published_content(db, "no-such-id-00") is None
