"""A user's own notifications: the inbox (cursor pages, newest first), read marks, the
delivery log, preferences and push devices; and what a live socket needs (who signs in,
where their stream is, what they missed). Everything here is the signed-in user's own:
each query names them. See ARV/docs/notifications.md."""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.database import insert_on_conflict
from app.core.exceptions import NotFoundError, PushDeviceLimitError, PushEndpointRefusedError
from app.core.security import InvalidTokenError, decode_access_token
from app.models.company import Membership
from app.models.notification import (
    DeliveryStatus,
    Notification,
    NotificationChannel,
    NotificationDelivery,
    PushDevice,
    PushPlatform,
    UserStream,
)
from app.models.outbox import OutboxMessage, OutboxStatus
from app.models.user import User
from app.services import notification_preferences
from app.services.auth_service import live_session_user
from app.services.notification_preferences import Preference
from app.utils.clock import utcnow


@dataclass(frozen=True, slots=True)
class InboxFilters:
    unread_only: bool = False
    company_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class InboxPage:
    items: list[Notification]
    # Pass as `before` for the next (older) page; None on the last page.
    next_cursor: int | None
    unread: int


@dataclass(frozen=True, slots=True)
class Delivery:
    notification_id: uuid.UUID
    type: str
    channel: NotificationChannel
    status: DeliveryStatus
    reason: str | None
    # Attempts made so far (a retried one shows how many, and why the last one failed).
    attempts: int
    device_id: uuid.UUID | None
    at: datetime


OUTBOX_TO_DELIVERY = {
    OutboxStatus.PENDING: DeliveryStatus.QUEUED,
    OutboxStatus.SENDING: DeliveryStatus.QUEUED,
    OutboxStatus.SENT: DeliveryStatus.SENT,
    OutboxStatus.DEAD: DeliveryStatus.FAILED,
}


class NotificationService:
    def __init__(self, db: Session, user: User, settings: Settings) -> None:
        self.db = db
        self.user = user
        self.settings = settings

    def inbox(self, filters: InboxFilters, before: int | None, limit: int) -> InboxPage:
        statement = self._inbox(filters).order_by(Notification.sequence.desc()).limit(limit + 1)
        if before is not None:
            statement = statement.where(Notification.sequence < before)
        rows = list(self.db.scalars(statement))
        more = len(rows) > limit
        items = rows[:limit]
        return InboxPage(items, items[-1].sequence if more else None, self.unread(filters))

    def unread(self, filters: InboxFilters) -> int:
        unread = self._inbox(filters).where(Notification.read_at.is_(None))
        return self.db.scalar(select(func.count()).select_from(unread.subquery())) or 0

    def mark_read(self, ids: list[uuid.UUID] | None, read: bool = True) -> int:
        """Mark the user's notifications `ids` (all of them when None) read or unread; how
        many changed."""
        statement = update(Notification).where(
            Notification.user_id == self.user.id, Notification.in_inbox.is_(True)
        )
        if ids is not None:
            statement = statement.where(Notification.id.in_(ids))
        if read:
            statement = statement.where(Notification.read_at.is_(None)).values(read_at=utcnow())
        else:
            statement = statement.where(Notification.read_at.is_not(None)).values(read_at=None)
        changed = self.db.execute(statement.execution_options(synchronize_session=False))
        return int(getattr(changed, "rowcount", 0) or 0)

    def delete(self, notification_id: uuid.UUID) -> None:
        self.db.delete(self._own(notification_id))
        self.db.flush()

    def deliveries(self, notification_id: uuid.UUID | None, limit: int) -> list[Delivery]:
        """Where each email and push of the user's notifications got, newest first."""
        statement = (
            select(NotificationDelivery, Notification.type, OutboxMessage)
            .join(Notification, Notification.id == NotificationDelivery.notification_id)
            .outerjoin(OutboxMessage, OutboxMessage.id == NotificationDelivery.outbox_message_id)
            .where(NotificationDelivery.user_id == self.user.id)
            .order_by(NotificationDelivery.created_at.desc(), NotificationDelivery.id)
            .limit(limit)
        )
        if notification_id is not None:
            statement = statement.where(NotificationDelivery.notification_id == notification_id)
        return [_delivery(*row) for row in self.db.execute(statement)]

    def preferences(self) -> list[Preference]:
        return notification_preferences.all_preferences(self.db, self.user.id)

    def choose(self, type_name: str, channel: NotificationChannel, enabled: bool) -> None:
        notification_preferences.choose(self.db, self.user.id, type_name, channel, enabled)

    def register_device(
        self,
        platform: PushPlatform,
        token: str,
        keys: dict[str, str] | None,
        app_version: str | None,
    ) -> PushDevice:
        """Register (or refresh) where the user's pushes go; the same token again updates
        the device it names."""
        # The user's row, locked: their registrations at once are counted, and a token sent
        # twice is stored, one after the other.
        self.db.execute(select(User.id).where(User.id == self.user.id).with_for_update())
        device = self.db.scalar(
            select(PushDevice).where(PushDevice.user_id == self.user.id, PushDevice.token == token)
        )
        if platform is PushPlatform.WEB:
            _check_endpoint(self.settings, token)
        if device is None:
            self._check_room()
            device = PushDevice(user_id=self.user.id, token=token)
            self.db.add(device)
        device.platform, device.keys, device.app_version = platform, keys, app_version
        device.last_used_at = utcnow()
        self.db.flush()
        return device

    def devices(self) -> list[PushDevice]:
        statement = (
            select(PushDevice)
            .where(PushDevice.user_id == self.user.id)
            .order_by(PushDevice.created_at, PushDevice.id)
        )
        return list(self.db.scalars(statement))

    def remove_device(self, device_id: uuid.UUID) -> None:
        device = self.db.scalar(
            select(PushDevice).where(PushDevice.id == device_id, PushDevice.user_id == self.user.id)
        )
        if device is None:
            raise NotFoundError.for_entity("PushDevice", device_id)
        self.db.delete(device)
        self.db.flush()

    def _check_room(self) -> None:
        limit = self.settings.PUSH_MAX_DEVICES_PER_USER
        held = self.db.scalar(select(func.count()).where(PushDevice.user_id == self.user.id)) or 0
        if held >= limit:
            raise PushDeviceLimitError(
                f"At most {limit} devices get pushes; remove one first.",
                details={"limit": limit},
            )

    def _inbox(self, filters: InboxFilters) -> Select[Notification]:
        statement = select(Notification).where(
            Notification.user_id == self.user.id, Notification.in_inbox.is_(True)
        )
        if filters.unread_only:
            statement = statement.where(Notification.read_at.is_(None))
        if filters.company_id is not None:
            statement = statement.where(Notification.company_id == filters.company_id)
        return statement

    def _own(self, notification_id: uuid.UUID) -> Notification:
        found = self.db.scalar(
            select(Notification).where(
                Notification.id == notification_id, Notification.user_id == self.user.id
            )
        )
        if found is None:
            raise NotFoundError.for_entity("Notification", notification_id)
        return found


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _check_endpoint(settings: Settings, endpoint: str) -> None:
    """Workers post to a browser's push endpoint: only to the push services allowed, so a
    subscription cannot aim them at the platform's own network."""
    url = urlsplit(endpoint)
    host = (url.hostname or "").lower()
    secure = url.scheme == "https" or (url.scheme == "http" and host in LOOPBACK)
    allowed = any(_host_matches(host, known) for known in settings.WEBPUSH_ENDPOINT_HOSTS)
    if not (secure and allowed):
        raise PushEndpointRefusedError(details={"host": host})


def _host_matches(host: str, allowed: str) -> bool:
    if allowed.startswith("*."):
        return host.endswith(allowed[1:])
    return host == allowed


def _delivery(
    delivery: NotificationDelivery, type_name: str, message: OutboxMessage | None
) -> Delivery:
    status, reason = delivery.status, delivery.reason
    if message is not None:
        status = OUTBOX_TO_DELIVERY[message.status]
        reason = message.last_error if status is not DeliveryStatus.SENT else None
    return Delivery(
        delivery.notification_id,
        type_name,
        delivery.channel,
        status,
        reason,
        message.attempts if message is not None else 0,
        delivery.device_id,
        message.updated_at if message is not None else delivery.updated_at,
    )


def purge_read(db: Session, settings: Settings, now: datetime) -> int:
    """Delete notifications read longer ago than NOTIFICATION_READ_RETENTION_DAYS."""
    cutoff = now - timedelta(days=settings.NOTIFICATION_READ_RETENTION_DAYS)
    purged = db.execute(delete(Notification).where(Notification.read_at < cutoff))
    return int(getattr(purged, "rowcount", 0) or 0)


# What a live socket needs.


@dataclass(frozen=True, slots=True)
class Listener:
    user_id: uuid.UUID
    session_id: uuid.UUID
    company_ids: set[uuid.UUID]


def signed_in(db: Session, settings: Settings, token: str) -> Listener | None:
    """Whom an access token signs a socket in as: its session must be live."""
    try:
        claims = decode_access_token(settings, token)
    except InvalidTokenError:
        return None
    user = live_session_user(db, claims)
    if user is None:
        return None
    companies = db.scalars(select(Membership.company_id).where(Membership.user_id == user.id))
    return Listener(user.id, claims.session_id, set(companies))


def stream_position(db: Session, user_id: uuid.UUID) -> tuple[str, int]:
    """The user's stream epoch and last offset (a stream starts at 0 in a new epoch)."""
    db.execute(
        insert_on_conflict(db, UserStream)
        .values(user_id=user_id, epoch=secrets.token_hex(8), last_sequence=0)
        .on_conflict_do_nothing()
    )
    stream = db.get_one(UserStream, user_id, populate_existing=True)
    return stream.epoch, stream.last_sequence


def missed(
    db: Session, user_id: uuid.UUID, after: int, up_to: int | None, limit: int
) -> list[Notification]:
    """The user's notifications after offset `after` (up to `up_to`), oldest first, as the
    app shows them (those the user turned off in the app are not sent)."""
    statement = (
        select(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.sequence > after,
            Notification.in_inbox.is_(True),
        )
        .order_by(Notification.sequence)
        .limit(limit)
    )
    if up_to is not None:
        statement = statement.where(Notification.sequence <= up_to)
    return list(db.scalars(statement))
