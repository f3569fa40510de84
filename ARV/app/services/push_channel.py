"""Push as an outbox channel: each push to one device is an outbox row (queued by the
notifications dispatcher), delivered with the outbox's retries and backoff. A device its
push service reports gone is removed; a transient failure is tried again."""

import logging
import uuid

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from app.core.database import session_scope
from app.core.delivery import DeliveryError
from app.models.notification import PushDevice
from app.models.outbox import OutboxMessage
from app.services.outbox import Channel
from app.services.push import PushMessage, PushOutcome, PushProvider

logger = logging.getLogger(__name__)
CHANNEL = "push"


class PushChannel(Channel):
    name = CHANNEL

    def __init__(self, sessions: sessionmaker[Session], providers: list[PushProvider]) -> None:
        self.sessions = sessions
        self.providers = {platform: p for p in providers for platform in p.platforms}

    def send(self, message: OutboxMessage) -> None:
        device_id = uuid.UUID(message.recipient)
        with session_scope(self.sessions) as db:
            device = db.get(PushDevice, device_id)
            if device is not None:
                db.expunge(device)
        if device is None:
            raise DeliveryError("the device was removed", permanent=True)
        provider = self.providers.get(device.platform)
        if provider is None:
            raise DeliveryError(f"no push provider for {device.platform.value}", permanent=True)
        payload = message.payload
        result = provider.send(
            device, PushMessage(payload["title"], payload["body"], payload["link"], payload["data"])
        )
        if result.outcome is PushOutcome.SENT:
            return
        if result.outcome is PushOutcome.GONE:
            self._forget(device_id)
        reason = f"{result.outcome.value}: {result.reason or 'no reason given'}"
        raise DeliveryError(reason, permanent=result.outcome is not PushOutcome.RETRY)

    def _forget(self, device_id: uuid.UUID) -> None:
        with session_scope(self.sessions) as db:
            db.execute(delete(PushDevice).where(PushDevice.id == device_id))
        logger.info("push device gone", extra={"device_id": str(device_id)})
