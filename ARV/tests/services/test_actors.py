"""One scoping rule per kind of actor: a member and the system read their one company's
rows (a member whose role does not manage projects only the projects open to every member
or granted to them, and what is in them); the public reads only what a model declares
public; audit entries say which kind of actor acted."""

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.models import (
    ARContent,
    AuditLog,
    Company,
    Project,
    ProjectAccess,
    ProjectGrant,
    ScheduledVideo,
    StoredFile,
    Video,
    VideoStatus,
)
from app.services.context import (
    Actor,
    ActorKind,
    CompanyContext,
    PublicActor,
    RequestMeta,
    SystemActor,
)
from app.services.tenant import ScopedService, readable
from app.services.video_schedule_service import active_video
from tests.support.factories import (
    Tenant,
    auth_headers,
    make_company,
    make_content,
    make_project,
    make_tenant,
    make_user,
    make_video,
)

NOON = datetime(2026, 12, 1, 12, tzinfo=UTC)


def ids(db: Session, statement: object) -> set[object]:
    return {row.id for row in db.scalars(statement)}  # type: ignore[call-overload]


def scheduled(db: Session, company: Company, video: Video) -> ARContent:
    content = make_content(db, make_project(db, company))
    db.add(
        ScheduledVideo(
            company_id=video.company_id,
            ar_content_id=content.id,
            video_id=video.id,
            timezone="UTC",
            priority=0,
        )
    )
    db.flush()
    return content


def member(tenant: Tenant, role: Role = Role.OWNER) -> CompanyContext:
    return CompanyContext(tenant.users[role], tenant.company, role, RequestMeta())


def test_members_and_the_system_read_their_own_company_only(
    db: Session, settings: Settings
) -> None:
    ours, theirs = make_tenant(db, settings), make_tenant(db, settings, name="Other")
    mine, other = make_video(db, ours.company), make_video(db, theirs.company)
    for actor in (member(ours), SystemActor(ours.company.id, task="test")):
        assert ids(db, readable(Video, actor)) == {mine.id}
        assert ids(db, readable(StoredFile, actor)) == {mine.file_id}
    assert ids(db, readable(Video, SystemActor(theirs.company.id, task="test"))) == {other.id}


def test_the_public_reads_only_what_a_model_declares_public(db: Session) -> None:
    company = make_company(db)
    probed = make_video(db, company)
    unprobed = make_video(db, company, status=VideoStatus.UPLOADED, duration_seconds=None)
    deleted = make_video(db, company)
    deleted.soft_delete()
    db.flush()
    public = PublicActor()
    found = ids(db, readable(Video, public))
    assert probed.id in found
    assert not {unprobed.id, deleted.id} & found
    for model in (StoredFile, ARContent, ScheduledVideo):
        assert ids(db, readable(model, public)) == set(), model


def test_restricted_projects_are_read_by_managers_and_granted_members_only(
    db: Session, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    company = tenant.company
    open_project = make_project(db, company, name="Open")
    hidden = make_project(db, company, name="Hidden", restricted=True)
    shared = make_project(db, company, name="Shared", restricted=True)
    contents = {
        project.name: make_content(db, project) for project in (open_project, hidden, shared)
    }
    db.add(
        ProjectGrant(
            company_id=company.id,
            project_id=shared.id,
            user_id=tenant.users[Role.VIEWER].id,
            access=ProjectAccess.VIEWER,
        )
    )
    db.flush()

    def seen(actor: Actor) -> tuple[set[str], set[str]]:
        projects = {row.name for row in db.scalars(readable(Project, actor))}
        in_them = {
            name
            for name, content in contents.items()
            if content.id in ids(db, readable(ARContent, actor))
        }
        return projects, in_them

    everything = {"Open", "Hidden", "Shared"}
    for role in (Role.OWNER, Role.ADMIN):
        assert seen(member(tenant, role)) == (everything, everything), role
    assert seen(SystemActor(company.id, task="test")) == (everything, everything)
    assert seen(member(tenant, Role.EDITOR)) == ({"Open"}, {"Open"})
    assert seen(member(tenant, Role.VIEWER)) == ({"Open", "Shared"}, {"Open", "Shared"})
    # Another member's grant is theirs alone, and another company sees none of it.
    other = make_tenant(db, settings, name="Other")
    assert seen(member(other, Role.OWNER)) == (set(), set())
    assert seen(member(other, Role.VIEWER)) == (set(), set())
    assert seen(PublicActor()) == (set(), set())


def playing(db: Session, actor: Actor, content: ARContent) -> Video | None:
    entry = active_video(db, actor, content.id, NOON).entry
    return entry.video if entry else None


def test_what_plays_is_answered_through_the_callers_scope(db: Session, settings: Settings) -> None:
    ours, theirs = make_tenant(db, settings), make_tenant(db, settings, name="Other")
    video = make_video(db, ours.company)
    content = scheduled(db, ours.company, video)
    assert playing(db, member(ours), content) == video
    assert playing(db, SystemActor(ours.company.id, task="test"), content) == video
    # Another company's system actor, and the public until contents are published, see nothing.
    assert playing(db, SystemActor(theirs.company.id, task="test"), content) is None
    assert playing(db, PublicActor(), content) is None


def test_audit_entries_name_the_kind_of_actor(db: Session) -> None:
    company = make_company(db)
    video = make_video(db, company)
    ScopedService(db, SystemActor(company.id, task="videos.run_job")).audit(
        "video.processed", "video", video.id, {"task": "videos.run_job"}
    )
    entry = db.scalars(select(AuditLog).where(AuditLog.action == "video.processed")).one()
    assert (entry.actor_kind, entry.actor_user_id, entry.company_id) == (
        ActorKind.SYSTEM,
        None,
        company.id,
    )


def test_support_access_is_recorded_as_support(
    client: TestClient, db: Session, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    superuser = make_user(db, superuser=True)
    url = f"/api/v1/companies/{tenant.company.id}"
    renamed = client.patch(
        url, json={"name": "Renamed"}, headers=auth_headers(db, settings, superuser)
    )
    assert renamed.status_code == 200, renamed.text
    owner_renamed = client.patch(url, json={"name": "Again"}, headers=tenant.headers[Role.OWNER])
    assert owner_renamed.status_code == 200, owner_renamed.text

    log = client.get(f"{url}/audit-logs", headers=tenant.headers[Role.OWNER]).json()["items"]
    kinds = {
        (item["actor_user_id"], item["actor_kind"])
        for item in log
        if item["action"] == "company.updated"
    }
    assert kinds == {(str(superuser.id), "support"), (str(tenant.users[Role.OWNER].id), "member")}
