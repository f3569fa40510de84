"""QR codes of a published content's viewer link (`{PUBLIC_BASE_URL}/v/{public_id}`) and
its printable sheet, for the public actor. Only a content on the air has them: any other
public id (unknown, draft, unpublished, archived, deleted) is not found, all alike.

Each picture's strong ETag is known before it is drawn (it hashes what the drawing is made
of), so a revalidation that answers 304 draws nothing and reads nothing from storage.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.exceptions import NotFoundError
from app.core.storage import InvalidKeyError, ObjectNotFoundError, StorageProvider
from app.models.marker import Marker
from app.services.public_contents import PublishedContent, published_content
from app.utils import qr

# Part of every ETag: bump it when the drawing changes, so caches drop their old copies.
RENDERING = "1"
PICTURE_MISSING = "This content's picture is not available."


@dataclass(frozen=True, slots=True)
class Picture:
    """An image to serve: `draw` makes its bytes, which `etag` names."""

    etag: str
    media_type: str
    draw: Callable[[], bytes]


def viewer_link(settings: Settings, public_id: str) -> str:
    """The link a QR code carries: the viewer page of the content."""
    return f"{settings.PUBLIC_BASE_URL}/v/{public_id}"


class ViewerQrService:
    def __init__(self, db: Session, settings: Settings, storage: StorageProvider) -> None:
        self.db = db
        self.settings = settings
        self.storage = storage

    def qr_png(self, public_id: str, *, size: int, margin: int) -> Picture:
        link = self._link(public_id)
        return Picture(
            _etag("png", link, size, margin),
            "image/png",
            lambda: qr.qr_png(link, size=size, margin=margin),
        )

    def qr_svg(self, public_id: str, *, scale: int, margin: int) -> Picture:
        link = self._link(public_id)
        return Picture(
            _etag("svg", link, scale, margin),
            "image/svg+xml",
            lambda: qr.qr_svg(link, scale=scale, margin=margin),
        )

    def print_sheet(self, public_id: str) -> Picture:
        """The served version's marker picture with the code beside it, and its title."""
        published = self._published(public_id)
        link = viewer_link(self.settings, public_id)
        title = str(published.version.snapshot["title"])
        marker = self.db.get(Marker, published.version.marker_id)
        image_key = marker.image_key if marker is not None else None
        if image_key is None:
            raise NotFoundError(PICTURE_MISSING)
        return Picture(
            _etag("print", link, image_key, title),
            "image/png",
            lambda: qr.print_sheet(self._read(image_key), link, title),
        )

    def _published(self, public_id: str) -> PublishedContent:
        published = published_content(self.db, public_id)
        if published is None:
            raise NotFoundError.for_entity("content", public_id)
        return published

    def _link(self, public_id: str) -> str:
        self._published(public_id)
        return viewer_link(self.settings, public_id)

    def _read(self, key: str) -> bytes:
        try:
            with self.storage.open_read(key) as stream:
                return stream.read()
        except (ObjectNotFoundError, InvalidKeyError) as error:
            raise NotFoundError(PICTURE_MISSING) from error


def _etag(*parts: object) -> str:
    digest = hashlib.sha256(json.dumps([RENDERING, *parts]).encode()).hexdigest()
    return f'"{digest[:32]}"'
