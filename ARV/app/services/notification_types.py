"""The one catalogue of what people are told: each event type, who hears it, on which
channels by default, whether it may be turned off, and its words in Russian and English.
An event names its type and carries the values its words use. See
ARV/docs/notifications.md#the-catalogue."""

from dataclasses import dataclass, field
from enum import StrEnum

from app.core.permissions import Role
from app.models.notification import NotificationChannel
from app.models.user import Language

Channel = NotificationChannel
ALL_ROLES = frozenset(Role)
OWNERS = frozenset({Role.OWNER})
MAKERS = frozenset({Role.OWNER, Role.ADMIN, Role.EDITOR})


class Audience(StrEnum):
    # The user the event names (the uploader, the account signed in to).
    USER = "user"
    # The company's members whose role is among the type's `roles`.
    COMPANY = "company"


@dataclass(frozen=True, slots=True)
class Words:
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    audience: Audience
    words: dict[Language, Words]
    defaults: frozenset[Channel]
    # For a company's event: who hears it. A user's event may fall back to them when it
    # names no user (a video uploaded by an account since deleted).
    roles: frozenset[Role] = MAKERS
    # Security and account messages: every channel it offers stays on.
    locked: bool = False
    # The channels it is offered on at all (an account email sent by the accounts flow
    # itself is not offered again here).
    offered: frozenset[Channel] = field(default_factory=lambda: frozenset(Channel))
    # An email of its own (with the event's values as its context), else `notification`.
    email_template: str = "notification"

    def default(self, channel: Channel) -> bool:
        return channel in self.defaults


IN_APP = frozenset({Channel.IN_APP})
IN_APP_AND_PUSH = frozenset({Channel.IN_APP, Channel.PUSH})
IN_APP_AND_EMAIL = frozenset({Channel.IN_APP, Channel.EMAIL})
EVERYWHERE = frozenset(Channel)
EN, RU = Language.EN, Language.RU


def _words(en: tuple[str, str], ru: tuple[str, str]) -> dict[Language, Words]:
    return {EN: Words(*en), RU: Words(*ru)}


TYPES: dict[str, EventType] = {
    event.name: event
    for event in [
        EventType(
            "video.ready",
            Audience.USER,
            _words(
                ("Video “{title}” is ready", "Every rendition of it plays now."),
                ("Видео «{title}» готово", "Его можно смотреть во всех качествах."),
            ),
            IN_APP_AND_PUSH,
        ),
        EventType(
            "video.failed",
            Audience.USER,
            _words(
                ("Video “{title}” could not be processed", "{reason}"),
                ("Видео «{title}» не удалось обработать", "{reason}"),
            ),
            EVERYWHERE,
        ),
        EventType(
            "marker.scored",
            Audience.COMPANY,
            _words(
                ("The marker of “{title}” scored {score}", "{verdict}"),
                ("Маркер «{title}»: оценка {score}", "{verdict}"),
            ),
            IN_APP,
        ),
        EventType(
            "content.published",
            Audience.COMPANY,
            _words(
                ("“{title}” is published", "Version {version} is on the air."),
                ("«{title}» опубликован", "Версия {version} в эфире."),
            ),
            IN_APP,
        ),
        EventType(
            "order.paid",
            Audience.COMPANY,
            _words(
                ("Order {order_number} is paid", "{amount}. Thank you."),
                ("Заказ {order_number} оплачен", "{amount}. Спасибо!"),
            ),
            IN_APP_AND_EMAIL,
            roles=OWNERS,
            email_template="order_paid",
        ),
        EventType(
            "payment.failed",
            Audience.COMPANY,
            _words(
                ("The payment for order {order_number} failed", "{reason}"),
                ("Оплата заказа {order_number} не прошла", "{reason}"),
            ),
            EVERYWHERE,
            roles=OWNERS,
            email_template="payment_failed",
        ),
        EventType(
            "refund.done",
            Audience.COMPANY,
            _words(
                ("{amount} refunded for order {order_number}", "{not_reversed}"),
                ("Возврат {amount} по заказу {order_number}", "{not_reversed}"),
            ),
            IN_APP_AND_EMAIL,
            roles=OWNERS,
            email_template="refund_done",
        ),
        EventType(
            "invoice.ready",
            Audience.COMPANY,
            _words(
                ("Invoice {invoice_number} is ready", "For order {order_number}, {amount}."),
                ("Счёт {invoice_number} готов", "По заказу {order_number}, {amount}."),
            ),
            IN_APP_AND_EMAIL,
            roles=OWNERS,
            email_template="invoice_ready",
        ),
        EventType(
            "renewal.due",
            Audience.COMPANY,
            _words(
                ("Your {plan_name} plan ends on {period_end}", "Pay the renewal: {amount}."),
                ("Тариф {plan_name} заканчивается {period_end}", "Оплатите продление: {amount}."),
            ),
            EVERYWHERE,
            roles=OWNERS,
            email_template="renewal_due",
        ),
        EventType(
            "invitation.received",
            Audience.USER,
            _words(
                ("You are invited to {company_name}", "As {role}."),
                ("Вас приглашают в {company_name}", "Роль: {role}."),
            ),
            IN_APP_AND_PUSH,
            # The invitation email itself is the accounts flow's.
            offered=IN_APP_AND_PUSH,
        ),
        EventType(
            "security.new_sign_in",
            Audience.USER,
            _words(
                ("New sign-in to your account", "From {device}, {ip_address}."),
                ("Новый вход в ваш аккаунт", "С устройства {device}, {ip_address}."),
            ),
            EVERYWHERE,
            locked=True,
        ),
        EventType(
            "security.refresh_reuse",
            Audience.USER,
            _words(
                (
                    "A stolen session of your account was stopped",
                    "An old sign-in token was used again; that device is signed out. "
                    "Change your password if it was not you.",
                ),
                (
                    "Украденная сессия вашего аккаунта остановлена",
                    "Старый токен входа использовали повторно; это устройство вышло из "
                    "аккаунта. Смените пароль, если это были не вы.",
                ),
            ),
            EVERYWHERE,
            locked=True,
        ),
        EventType(
            "security.password_changed",
            Audience.USER,
            _words(
                ("Your password was changed", "Every other device is signed out."),
                ("Пароль изменён", "Все другие устройства вышли из аккаунта."),
            ),
            IN_APP_AND_PUSH,
            locked=True,
            # The accounts flow emails it already.
            offered=IN_APP_AND_PUSH,
        ),
    ]
}


def event_type(name: str) -> EventType:
    return TYPES[name]
