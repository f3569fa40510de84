"""What viewers without identity may read of AR contents, by public id: a published
content and the version it serves, through the public actor's scope (never a draft,
another version, or anything unpublished)."""

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.models.ar_content import ARContent, ARContentVersion
from app.services.context import PublicActor
from app.services.tenant import readable


@dataclass(frozen=True, slots=True)
class PublishedContent:
    content: ARContent
    version: ARContentVersion


def published_content(db: Session, public_id: str) -> PublishedContent | None:
    """The content `public_id` names and its served version; None for an unknown,
    unpublished, archived or deleted content (all alike, so nothing is revealed)."""
    public = PublicActor()
    content: ARContent | None = db.scalar(
        readable(ARContent, public).where(ARContent.public_id == public_id)
    )
    if content is None:
        return None
    version: ARContentVersion | None = db.scalar(
        readable(ARContentVersion, public).where(ARContentVersion.ar_content_id == content.id)
    )
    return None if version is None else PublishedContent(content, version)
