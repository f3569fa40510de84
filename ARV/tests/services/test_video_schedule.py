"""The video schedule's rules: half-open windows, the highest-priority playing entry wins,
wall-clock times read in an IANA zone. Pure logic on in-memory rows first, then the
service against the test's PostgreSQL transaction."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.exceptions import (
    ConflictError,
    ContentArchivedError,
    NotFoundError,
    ValidationFailedError,
)
from app.core.permissions import Role
from app.core.storage import StorageProvider
from app.models import (
    ContentStatus,
    Project,
    ScheduledVideo,
    Video,
    VideoStatus,
)
from app.schemas.ar_content import ScheduleWrite
from app.services.context import CompanyContext, RequestMeta
from app.services.pagination import PageParams
from app.services.tenant import TenantService
from app.services.video_schedule_service import (
    MAX_ENTRIES_PER_CONTENT,
    VideoScheduleService,
    Window,
    pick_active,
    remove_video_from_schedules,
)
from app.utils.timezones import NonexistentLocalTimeError, to_utc, zone
from tests.support.factories import (
    Tenant,
    make_content,
    make_project,
    make_tenant,
    make_video,
)

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in December 2026, UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


# -- Window -------------------------------------------------------------------------------


def test_window_holds_its_start_but_not_its_end() -> None:
    window = Window(utc(24, 10), utc(24, 12))
    assert window.holds(utc(24, 10))
    assert window.holds(utc(24, 11, 59))
    assert not window.holds(utc(24, 12))
    assert not window.holds(utc(24, 9, 59))


def test_window_with_open_edges_reaches_forever_that_way() -> None:
    since_ever = Window(None, utc(24, 12))
    for_ever = Window(utc(24, 10), None)
    always = Window(None, None)
    assert since_ever.holds(datetime(1970, 1, 1, tzinfo=UTC))
    assert not since_ever.holds(utc(24, 12))
    assert for_ever.holds(datetime(2999, 1, 1, tzinfo=UTC))
    assert not for_ever.holds(utc(24, 9))
    assert always.holds(utc(24, 0))


def test_touching_windows_do_not_overlap() -> None:
    morning = Window(utc(24, 10), utc(24, 12))
    noon = Window(utc(24, 12), utc(24, 14))
    assert not morning.overlaps(noon)
    assert not noon.overlaps(morning)


def test_windows_sharing_a_moment_overlap_both_ways() -> None:
    morning = Window(utc(24, 10), utc(24, 12))
    late_morning = Window(utc(24, 11, 59), utc(24, 14))
    inside = Window(utc(24, 10, 30), utc(24, 11))
    assert morning.overlaps(late_morning)
    assert late_morning.overlaps(morning)
    assert morning.overlaps(inside)
    assert inside.overlaps(morning)
    assert not Window(utc(24, 14), utc(24, 15)).overlaps(morning)


def test_open_ended_windows_overlap_everything_they_reach() -> None:
    window = Window(utc(24, 10), utc(24, 12))
    assert Window(None, None).overlaps(window)
    assert window.overlaps(Window(None, None))
    assert Window(None, utc(24, 11)).overlaps(window)
    assert not Window(None, utc(24, 10)).overlaps(window)
    assert Window(utc(24, 11), None).overlaps(window)
    assert not Window(utc(24, 12), None).overlaps(window)
    assert Window(None, utc(24, 12)).overlaps(Window(utc(24, 11), None))


def test_edges_after_lists_only_later_edges() -> None:
    window = Window(utc(24, 10), utc(24, 12))
    assert window.edges_after(utc(24, 9)) == [utc(24, 10), utc(24, 12)]
    assert window.edges_after(utc(24, 10)) == [utc(24, 12)]
    assert window.edges_after(utc(24, 12)) == []
    assert Window(None, None).edges_after(utc(24, 9)) == []


# -- pick_active --------------------------------------------------------------------------


def entry(
    title: str,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    *,
    priority: int = 0,
    status: VideoStatus = VideoStatus.PLAYABLE,
) -> ScheduledVideo:
    """An entry and its video, in memory only."""
    video = Video(id=uuid.uuid4(), title=title, status=status)
    return ScheduledVideo(
        id=uuid.uuid4(),
        video=video,
        video_id=video.id,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone="UTC",
        priority=priority,
    )


def test_higher_priority_plays_during_its_window_and_the_default_outside() -> None:
    default = entry("Default")
    holiday = entry("Holiday", utc(24, 18), utc(25, 0), priority=1)
    entries = [holiday, default]

    during = pick_active(entries, utc(24, 20))
    assert during.entry is holiday
    assert during.next_change_at == utc(25, 0)
    assert during.at == utc(24, 20)

    before = pick_active(entries, utc(24, 17))
    assert before.entry is default
    assert before.next_change_at == utc(24, 18)

    after = pick_active(entries, utc(25, 0))
    assert after.entry is default
    assert after.next_change_at is None


def test_lower_priority_loses_even_when_listed_first() -> None:
    low = entry("Low", utc(24, 10), utc(24, 20), priority=-5)
    high = entry("High", utc(24, 12), utc(24, 14), priority=7)
    assert pick_active([low, high], utc(24, 13)).entry is high
    assert pick_active([low, high], utc(24, 14)).entry is low


@pytest.mark.parametrize(
    "status", [VideoStatus.PROCESSING, VideoStatus.FAILED, VideoStatus.UPLOADED]
)
def test_a_winner_that_does_not_play_is_passed_over(status: VideoStatus) -> None:
    default = entry("Default")
    broken = entry("Broken", utc(24, 18), utc(25, 0), priority=1, status=status)
    result = pick_active([broken, default], utc(24, 20))
    assert result.entry is default
    # Its edges still count: the answer may change there.
    assert result.next_change_at == utc(25, 0)


def test_ready_videos_play_like_playable_ones() -> None:
    default = entry("Default")
    ready = entry("Ready", utc(24, 18), utc(25, 0), priority=1, status=VideoStatus.READY)
    assert pick_active([default, ready], utc(24, 20)).entry is ready


def test_nothing_plays_when_no_window_holds_or_no_video_plays() -> None:
    later = entry("Later", utc(24, 18), utc(25, 0))
    failed = entry("Failed", status=VideoStatus.FAILED)
    result = pick_active([later, failed], utc(24, 10))
    assert result.entry is None
    assert result.next_change_at == utc(24, 18)
    assert pick_active([], utc(24, 10)).next_change_at is None


def test_next_change_is_the_nearest_edge_of_any_entry() -> None:
    entries = [
        entry("Week", utc(20, 0), utc(27, 0), priority=1),
        entry("Evening", utc(24, 18), utc(24, 22), priority=2),
        entry("Night", utc(24, 23), utc(25, 1), priority=2),
    ]
    assert pick_active(entries, utc(24, 12)).next_change_at == utc(24, 18)
    assert pick_active(entries, utc(24, 22, 30)).next_change_at == utc(24, 23)
    assert pick_active(entries, utc(25, 2)).next_change_at == utc(27, 0)


def test_of_equal_priorities_the_first_listed_wins() -> None:
    first = entry("First")
    second = entry("Second")
    assert pick_active([first, second], utc(24, 10)).entry is first


# -- time zones ---------------------------------------------------------------------------


def test_naive_wall_time_in_moscow_is_three_hours_ahead_of_utc() -> None:
    instant = to_utc(datetime(2026, 12, 24, 18, 0), MOSCOW)
    assert instant == utc(24, 15)
    assert instant.utcoffset() == timedelta(0)


def test_an_aware_value_is_kept_as_its_instant() -> None:
    yekaterinburg = timezone(timedelta(hours=5))
    instant = to_utc(datetime(2026, 12, 24, 18, 0, tzinfo=yekaterinburg), MOSCOW)
    assert instant == utc(24, 13)
    assert instant.utcoffset() == timedelta(0)


def test_a_wall_time_skipped_by_dst_is_refused() -> None:
    with pytest.raises(NonexistentLocalTimeError, match="does not exist in Europe/Berlin"):
        to_utc(datetime(2026, 3, 29, 2, 30), BERLIN)


def test_the_wall_times_around_the_dst_gap_exist() -> None:
    assert to_utc(datetime(2026, 3, 29, 1, 59), BERLIN) == datetime(2026, 3, 29, 0, 59, tzinfo=UTC)
    assert to_utc(datetime(2026, 3, 29, 3, 0), BERLIN) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_an_ambiguous_wall_time_means_its_first_occurrence() -> None:
    # 02:30 happens twice on 2026-10-25 in Berlin: first in CEST (+02), then in CET (+01).
    instant = to_utc(datetime(2026, 10, 25, 2, 30), BERLIN)
    assert instant == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_an_unknown_zone_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not an IANA time zone"):
        zone("Mars/Olympus_Mons")
    assert zone("Europe/Moscow").key == "Europe/Moscow"


def test_a_zone_folder_name_is_a_value_error() -> None:
    # "Europe" is a folder of the tz database, not a zone.
    with pytest.raises(ValueError, match="not an IANA time zone"):
        zone("Europe")


# -- the service, on the database ---------------------------------------------------------


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


def context(tenant: Tenant, role: Role = Role.EDITOR) -> CompanyContext:
    return CompanyContext(
        user=tenant.users[role], company=tenant.company, role=role, meta=RequestMeta()
    )


@pytest.fixture
def project(db: Session, tenant: Tenant) -> Project:
    return make_project(db, tenant.company)


def schedule_service(
    db: Session,
    tenant: Tenant,
    project: Project,
    storage: StorageProvider,
    settings: Settings,
) -> VideoScheduleService:
    return VideoScheduleService(db, context(tenant), project, storage, settings)


@pytest.fixture
def service(
    db: Session, tenant: Tenant, project: Project, storage: StorageProvider, settings: Settings
) -> VideoScheduleService:
    return schedule_service(db, tenant, project, storage, settings)


def write(
    video: Video,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    *,
    tz: str = "UTC",
    priority: int = 0,
) -> ScheduleWrite:
    return ScheduleWrite(
        video_id=video.id, starts_at=starts_at, ends_at=ends_at, timezone=tz, priority=priority
    )


def test_attach_stores_a_wall_time_as_its_utc_instant(
    db: Session, tenant: Tenant, project: Project, service: VideoScheduleService
) -> None:
    content = make_content(db, project)
    video = make_video(db, tenant.company, "Holiday")
    body = write(
        video, datetime(2026, 12, 24, 18, 0), datetime(2026, 12, 25, 0, 0), tz="Europe/Moscow"
    )
    attached = service.attach(content.id, body)
    db.expire_all()
    row = db.get_one(ScheduledVideo, attached.id)
    assert (row.starts_at, row.ends_at) == (utc(24, 15), utc(24, 21))
    assert (row.timezone, row.priority, row.video_id) == ("Europe/Moscow", 0, video.id)


def test_attach_refuses_an_equal_priority_overlap_and_names_it(
    db: Session, tenant: Tenant, project: Project, service: VideoScheduleService
) -> None:
    content = make_content(db, project)
    first = service.attach(content.id, write(make_video(db, tenant.company, "A"), utc(24, 10)))
    clash = write(make_video(db, tenant.company, "B"), utc(20, 0), utc(24, 11))
    with pytest.raises(ConflictError) as raised:
        service.attach(content.id, clash)
    assert [c["id"] for c in raised.value.details["conflicts"]] == [str(first.id)]
    assert "'A'" in raised.value.message
    # The same window one priority up is fine.
    clash.priority = 1
    service.attach(content.id, clash)
    assert service.list_entries(content.id, PageParams(limit=50, offset=0)).total == 2


def test_attach_refuses_an_empty_or_reversed_window(
    db: Session, tenant: Tenant, project: Project, service: VideoScheduleService
) -> None:
    content = make_content(db, project)
    video = make_video(db, tenant.company, "A")
    with pytest.raises(ValidationFailedError):
        service.attach(content.id, write(video, utc(24, 10), utc(24, 10)))
    with pytest.raises(ValidationFailedError):
        service.attach(content.id, write(video, utc(24, 10), utc(24, 9)))
    # Moscow 12:00 is 09:00 UTC: before the start once both are read as instants.
    mixed = write(video, utc(24, 10), datetime(2026, 12, 24, 12, 0), tz="Europe/Moscow")
    with pytest.raises(ValidationFailedError):
        service.attach(content.id, mixed)


def test_replace_checks_overlap_against_the_others_only(
    db: Session, tenant: Tenant, project: Project, service: VideoScheduleService
) -> None:
    content = make_content(db, project)
    video = make_video(db, tenant.company, "A")
    morning = service.attach(content.id, write(video, utc(24, 10), utc(24, 12)))
    evening = service.attach(content.id, write(video, utc(24, 18), utc(24, 20)))

    same = service.replace(content.id, morning.id, write(video, utc(24, 10), utc(24, 12)))
    assert (same.starts_at, same.ends_at) == (utc(24, 10), utc(24, 12))
    with pytest.raises(ConflictError) as raised:
        service.replace(content.id, morning.id, write(video, utc(24, 11), utc(24, 19)))
    assert [c["id"] for c in raised.value.details["conflicts"]] == [str(evening.id)]


def test_the_schedule_holds_a_bounded_number_of_entries(
    db: Session, tenant: Tenant, project: Project, service: VideoScheduleService
) -> None:
    content = make_content(db, project)
    video = make_video(db, tenant.company, "A")
    db.add_all(
        ScheduledVideo(
            company_id=tenant.company.id,
            ar_content_id=content.id,
            video_id=video.id,
            starts_at=utc(1, 0) + timedelta(hours=index),
            ends_at=utc(1, 0) + timedelta(hours=index + 1),
        )
        for index in range(MAX_ENTRIES_PER_CONTENT)
    )
    db.flush()
    with pytest.raises(ConflictError) as raised:
        service.attach(content.id, write(video, priority=1))
    assert raised.value.details == {"limit": MAX_ENTRIES_PER_CONTENT}


def test_active_passes_over_a_processing_video_for_the_default(
    db: Session, tenant: Tenant, project: Project, service: VideoScheduleService
) -> None:
    content = make_content(db, project)
    default = service.attach(content.id, write(make_video(db, tenant.company, "Default")))
    late = make_video(db, tenant.company, "Late", VideoStatus.PROCESSING)
    service.attach(content.id, write(late, utc(24, 18), utc(25, 0), priority=1))

    result = service.active(content.id, utc(24, 20))
    assert result.entry is not None
    assert result.entry.id == default.id
    assert result.next_change_at == utc(25, 0)

    late.status = VideoStatus.PLAYABLE
    db.flush()
    db.expire_all()
    result = service.active(content.id, utc(24, 20))
    assert result.entry is not None
    assert result.entry.video_id == late.id


def test_a_deleted_video_is_not_scheduled(
    db: Session, tenant: Tenant, project: Project, service: VideoScheduleService
) -> None:
    content = make_content(db, project)
    video = make_video(db, tenant.company, "Gone")
    service.attach(content.id, write(video))
    video.soft_delete()
    db.flush()
    assert service.active(content.id, utc(24, 10)).entry is None
    assert service.list_entries(content.id, PageParams(limit=50, offset=0)).total == 0


def test_remove_video_from_schedules_touches_only_that_companys_video(
    db: Session,
    settings: Settings,
    tenant: Tenant,
    project: Project,
    service: VideoScheduleService,
) -> None:
    content = make_content(db, project)
    kept = make_video(db, tenant.company, "Kept")
    removed = make_video(db, tenant.company, "Removed")
    service.attach(content.id, write(kept))
    service.attach(content.id, write(removed, priority=1))
    other = make_tenant(db, settings, name="Other")

    def scheduled() -> set[uuid.UUID]:
        query = select(ScheduledVideo.video_id).where(ScheduledVideo.ar_content_id == content.id)
        return set(db.scalars(query))

    remove_video_from_schedules(TenantService(db, context(other)), removed.id)
    assert scheduled() == {kept.id, removed.id}
    remove_video_from_schedules(service, removed.id)
    assert scheduled() == {kept.id}


def test_remove_video_from_schedules_reaches_projects_the_caller_cannot_see(
    db: Session, tenant: Tenant, project: Project, service: VideoScheduleService
) -> None:
    """An editor deleting a video takes it off every schedule of the company, restricted
    projects included: a schedule must never keep a deleted video it cannot show."""
    hidden = make_content(db, make_project(db, tenant.company, name="Hidden", restricted=True))
    video = make_video(db, tenant.company, "Shared")
    db.add(ScheduledVideo(company_id=tenant.company.id, ar_content_id=hidden.id, video_id=video.id))
    db.flush()
    editor = TenantService(db, context(tenant, Role.EDITOR))
    remove_video_from_schedules(editor, video.id)
    left = select(ScheduledVideo.id).where(ScheduledVideo.video_id == video.id)
    assert list(db.scalars(left)) == []


def test_a_content_of_another_project_is_not_found(
    db: Session, tenant: Tenant, service: VideoScheduleService
) -> None:
    elsewhere = make_content(db, make_project(db, tenant.company, name="Elsewhere"))
    video = make_video(db, tenant.company, "A")
    with pytest.raises(NotFoundError) as raised:
        service.attach(elsewhere.id, write(video))
    assert raised.value.details == {"entity": "AR content", "id": str(elsewhere.id)}
    with pytest.raises(NotFoundError):
        service.active(elsewhere.id, utc(24, 10))
    assert list(db.scalars(select(ScheduledVideo.id))) == []


def test_an_archived_content_refuses_schedule_changes(
    db: Session, tenant: Tenant, project: Project, service: VideoScheduleService
) -> None:
    content = make_content(db, project)
    video = make_video(db, tenant.company, "A")
    entry = service.attach(content.id, write(video))
    content.status = ContentStatus.ARCHIVED
    db.flush()
    for change in (
        lambda: service.attach(content.id, write(video, priority=1)),
        lambda: service.replace(content.id, entry.id, write(video, priority=2)),
        lambda: service.detach(content.id, entry.id),
    ):
        with pytest.raises(ContentArchivedError):
            change()
    # Reading still works.
    assert service.active(content.id, utc(24, 10)).entry is not None
    assert service.list_entries(content.id, PageParams(limit=50, offset=0)).total == 1


def test_another_companys_content_and_video_are_not_found(
    db: Session, settings: Settings, tenant: Tenant, project: Project, service: VideoScheduleService
) -> None:
    other = make_tenant(db, settings, name="Other")
    theirs = make_content(db, make_project(db, other.company))
    their_video = make_video(db, other.company, "Theirs")
    with pytest.raises(NotFoundError) as raised:
        service.active(theirs.id, utc(24, 10))
    assert raised.value.details == {"entity": "AR content", "id": str(theirs.id)}

    mine = make_content(db, project)
    with pytest.raises(NotFoundError) as raised:
        service.attach(mine.id, write(their_video))
    assert raised.value.details == {"entity": "Video", "id": str(their_video.id)}
