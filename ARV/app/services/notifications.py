"""Domain events to notifications, once.

1. `emit` writes the event to the outbox (channel `events`) in the transaction of the
   change that caused it: nothing is told about a change that rolled back.
2. The outbox delivers it, claimed once under the job lease, to `EventChannel`, which runs
   the `Dispatcher` in a transaction of its own: it finds who hears the event (the user it
   names, or the company's members by role), and for each, with the user's preferences,
   writes the notification (the inbox, and the user's stream for live sockets), queues an
   email and a push per device through the outbox, and logs each delivery.
3. A notification is unique per (user, event): a dispatch run again, because its worker
   died after committing, tells nobody twice and queues nothing twice.
4. After commit, each notification is published to its user's live channel.

See ARV/docs/notifications.md."""

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.database import insert_on_conflict, session_scope
from app.core.delivery import DeliveryError
from app.core.events import on_commit
from app.models.company import Company, Membership
from app.models.notification import (
    Notification,
    NotificationChannel,
    NotificationDelivery,
    PushDevice,
    UserStream,
)
from app.models.outbox import OutboxMessage
from app.models.user import User
from app.services import emails, live, outbox, push_channel
from app.services.context import SystemActor
from app.services.notification_preferences import effective_preferences, unsubscribe_url
from app.services.notification_types import Audience, EventType, event_type
from app.services.outbox import Channel
from app.services.tenant import ScopedService
from app.utils.clock import utcnow

EVENTS_CHANNEL = "events"


def emit(
    db: Session,
    settings: Settings,
    type_name: str,
    data: dict[str, Any],
    *,
    company_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    link: str | None = None,
) -> None:
    """Record the event `type_name` in the caller's transaction, for the users it concerns:
    `user_id`'s, else the company's members the type names."""
    kind = event_type(type_name)
    if kind.audience is Audience.USER and user_id is None and company_id is None:
        raise ValueError(f"{type_name} names a user or a company")
    outbox.enqueue(
        db,
        settings,
        channel=EVENTS_CHANNEL,
        kind=type_name,
        recipient=f"user:{user_id}" if user_id else f"company:{company_id}",
        payload={
            "event_id": str(uuid.uuid4()),
            "company_id": str(company_id) if company_id else None,
            "user_id": str(user_id) if user_id else None,
            "data": data,
            "link": link,
        },
    )


def app_link(settings: Settings, company_id: uuid.UUID, *path: object) -> str:
    """A page of the company in the web app: where a notification takes its reader."""
    return "/".join([settings.PUBLIC_BASE_URL, "companies", str(company_id), *map(str, path)])


@dataclass(frozen=True, slots=True)
class Event:
    id: uuid.UUID
    kind: EventType
    company_id: uuid.UUID | None
    user_id: uuid.UUID | None
    data: dict[str, Any]
    link: str | None

    @classmethod
    def from_message(cls, message: OutboxMessage) -> "Event":
        payload = message.payload
        try:
            kind = event_type(message.kind)
        except KeyError as error:
            raise DeliveryError(f"no event type {message.kind!r}", permanent=True) from error
        return cls(
            id=uuid.UUID(payload["event_id"]),
            kind=kind,
            company_id=_uuid(payload.get("company_id")),
            user_id=_uuid(payload.get("user_id")),
            data=payload["data"],
            link=payload.get("link"),
        )


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


class EventChannel(Channel):
    name = EVENTS_CHANNEL

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    def send(self, message: OutboxMessage) -> None:
        Dispatcher(self.settings).dispatch(self.sessions, Event.from_message(message))


class Dispatcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def dispatch(self, sessions: sessionmaker[Session], event: Event) -> int:
        """Tell everyone `event` concerns; how many were told now (not before)."""
        with session_scope(sessions) as db:
            company = db.get(Company, event.company_id) if event.company_id else None
            told = [self._tell(db, event, user, company) for user in self._hearers(db, event)]
        return sum(told)

    def _hearers(self, db: Session, event: Event) -> list[User]:
        if event.user_id is not None:
            user = db.get(User, event.user_id)
            if user is not None and self._member(db, event, user):
                return [user]
            if user is not None or event.company_id is None:
                return []  # no longer a member: told nothing of the company
        return self._company_members(db, event)

    def _member(self, db: Session, event: Event, user: User) -> bool:
        if event.company_id is None:
            return True
        scope = ScopedService(db, SystemActor(event.company_id, task="notifications.dispatch"))
        found = db.scalar(scope.scoped(Membership).where(Membership.user_id == user.id))
        return found is not None

    def _company_members(self, db: Session, event: Event) -> list[User]:
        if event.company_id is None:
            return []
        scope = ScopedService(db, SystemActor(event.company_id, task="notifications.dispatch"))
        members = (
            scope.scoped(Membership)
            .where(Membership.role.in_(event.kind.roles))
            .join(User, User.id == Membership.user_id)
            .with_only_columns(User)
            .order_by(User.email)
        )
        return list(db.scalars(members))

    def _tell(self, db: Session, event: Event, user: User, company: Company | None) -> bool:
        chosen = effective_preferences(db, user.id, event.kind)
        words = event.kind.words[user.language]
        try:
            title, body = words.title.format(**event.data), words.body.format(**event.data)
        except KeyError as error:
            raise DeliveryError(f"{event.kind.name} lacks {error}", permanent=True) from error
        notification = Notification(
            user_id=user.id,
            company_id=event.company_id,
            event_id=event.id,
            type=event.kind.name,
            title=title,
            body=body,
            payload=event.data,
            link=event.link,
            in_inbox=chosen[NotificationChannel.IN_APP],
            created_at=utcnow(),
        )
        try:
            with db.begin_nested():
                epoch, notification.sequence = _next_sequence(db, user.id)
                db.add(notification)
                db.flush()
        except IntegrityError:
            return False  # told before: this event was dispatched already
        if chosen[NotificationChannel.EMAIL]:
            self._email(db, event, user, company, notification)
        if chosen[NotificationChannel.PUSH]:
            self._push(db, user, notification)
        if notification.in_inbox:  # the app's channel is the inbox and the live sockets
            on_commit(db, live.notify_later(self.settings, user.id, epoch, notification))
        return True

    def _email(
        self,
        db: Session,
        event: Event,
        user: User,
        company: Company | None,
        notification: Notification,
    ) -> None:
        context: dict[str, Any] = {
            **event.data,
            "company_name": company.name if company else event.data.get("company_name", ""),
            "title": notification.title,
            "body": notification.body,
            # An event's own link wins: an invoice's email links its signed PDF.
            "link": event.data.get("link") or event.link or self.settings.PUBLIC_BASE_URL,
        }
        headers: dict[str, str] = {}
        if not event.kind.locked:
            url = unsubscribe_url(self.settings, user.id, event.kind.name)
            context["unsubscribe_url"] = url
            headers = {
                "List-Unsubscribe": f"<{url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        rendered = emails.render(event.kind.email_template, user.language, context)
        message = outbox.enqueue(
            db,
            self.settings,
            channel=emails.CHANNEL,
            kind=event.kind.name,
            recipient=user.email,
            payload={**rendered, "headers": headers},
        )
        self._log(db, notification, NotificationChannel.EMAIL, message)

    def _push(self, db: Session, user: User, notification: Notification) -> None:
        devices = db.scalars(select(PushDevice).where(PushDevice.user_id == user.id))
        for device in devices:
            message = outbox.enqueue(
                db,
                self.settings,
                channel=push_channel.CHANNEL,
                kind=notification.type,
                recipient=str(device.id),
                payload={
                    "title": notification.title,
                    "body": notification.body,
                    "link": notification.link,
                    "data": {"type": notification.type, "id": str(notification.id)},
                },
            )
            self._log(db, notification, NotificationChannel.PUSH, message, device)

    @staticmethod
    def _log(
        db: Session,
        notification: Notification,
        channel: NotificationChannel,
        message: OutboxMessage,
        device: PushDevice | None = None,
    ) -> None:
        db.add(
            NotificationDelivery(
                notification_id=notification.id,
                user_id=notification.user_id,
                channel=channel,
                outbox_message_id=message.id,
                device_id=device.id if device else None,
            )
        )


def _next_sequence(db: Session, user_id: uuid.UUID) -> tuple[str, int]:
    """The user's next stream offset, holding their stream row until the caller's
    transaction ends (so offsets are given, and committed, one after another)."""
    stream = UserStream.__table__.c
    row = db.execute(
        insert_on_conflict(db, UserStream)
        .values(user_id=user_id, epoch=secrets.token_hex(8), last_sequence=1)
        .on_conflict_do_update(
            index_elements=[stream.user_id], set_={"last_sequence": stream.last_sequence + 1}
        )
        .returning(stream.epoch, stream.last_sequence)
    ).one()
    return str(row.epoch), int(row.last_sequence)
