"""Links players can follow: HLS playlists and WebVTT tracks served through the API with
every URI inside them signed.

Stored playlists refer to their variants and segments relatively (`360p/index.m3u8`,
`seg_00001.ts`) and the storyboard track to its sprite (`storyboard.jpg#xywh=...`). A
signed link does not survive such a reference: the relative URL loses the signature. So
these documents are served by `GET /api/v1/media/{key}`, which rewrites each reference:
a nested playlist or track to another signed API link, anything else (segments, images)
to the storage provider's own signed link (a local signed link or an S3 presigned GET).

Every nested link expires exactly when the document's own link does: a holder can never
stretch a link's life by following it, and the rewritten body is the same on every
request until then, so its ETag lets caches revalidate.
"""

import hashlib
import json
import posixpath
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from app.core.config import Settings
from app.core.security import hmac_sign, media_document_key, verify_link_signature
from app.core.storage import InvalidKeyError, StorageProvider, validate_key

MEDIA_PATH = "/api/v1/media/"
DOCUMENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".vtt": "text/vtt"}
# Far above any playlist the pipeline writes (a 4 s segment per line of a few hours).
MAX_DOCUMENT_BYTES = 1024 * 1024
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')
_HAS_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True, slots=True)
class Document:
    body: bytes
    media_type: str

    @property
    def etag(self) -> str:
        return f'"{hashlib.sha256(self.body).hexdigest()[:32]}"'


def document_media_type(key: str) -> str | None:
    return DOCUMENT_TYPES.get(posixpath.splitext(key)[1])


class MediaDelivery:
    def __init__(self, storage: StorageProvider, settings: Settings) -> None:
        self.storage = storage
        self._base_url = settings.API_PUBLIC_URL.rstrip("/")
        self._signing_key = media_document_key(settings)

    def link(self, key: str, expires: int) -> str:
        """A signed link to `key` valid until `expires` (Unix time): through the API for a
        playlist or a track, straight from storage for anything else."""
        if document_media_type(key) is None:
            expires_in = max(1, expires - int(time.time()))
            return self.storage.download_url(key, expires_in, immutable=True)
        query = {"expires": expires, "signature": self._sign(key, expires)}
        return f"{self._base_url}{MEDIA_PATH}{quote(key)}?{urlencode(query)}"

    def verify(self, key: str, expires: int, signature: str) -> None:
        """Raises `InvalidLinkError` or `ExpiredLinkError` (from `app.core.security`)."""
        verify_link_signature(self._signing_key, _message(key, expires), signature, expires)

    def render(self, key: str, expires: int) -> Document:
        """The stored document with its references signed until `expires`. Raises
        `ObjectNotFoundError` for a key that holds no document."""
        media_type = document_media_type(key)
        if media_type is None:
            raise InvalidKeyError(f"{key!r} is not a playlist or a track")
        text = self._read(key)
        resolve = self._resolver(key, expires)
        body = _sign_vtt(text, resolve) if key.endswith(".vtt") else _sign_playlist(text, resolve)
        return Document(body.encode(), media_type)

    def _sign(self, key: str, expires: int) -> str:
        return hmac_sign(self._signing_key, _message(key, expires))

    def _read(self, key: str) -> str:
        with self.storage.open_read(key) as stream:
            data = stream.read(MAX_DOCUMENT_BYTES + 1)
        if len(data) > MAX_DOCUMENT_BYTES:
            raise InvalidKeyError(f"{key!r} is larger than any playlist the pipeline writes")
        return data.decode("utf-8", errors="replace")

    def _resolver(self, document_key: str, expires: int) -> Callable[[str], str]:
        folder = posixpath.dirname(document_key)
        # References may not leave the tenant's own folder (`companies/{id}/`).
        tenant = "/".join(document_key.split("/", 2)[:2]) + "/"

        def resolve(reference: str) -> str:
            if _HAS_SCHEME.match(reference):
                return reference
            key = posixpath.normpath(posixpath.join(folder, reference))
            if not validate_key(key).startswith(tenant):
                raise InvalidKeyError(f"{reference!r} leads out of {tenant}")
            return self.link(key, expires)

        return resolve


def _message(key: str, expires: int) -> bytes:
    return json.dumps(["media-document", key, expires]).encode()


def _sign_playlist(text: str, resolve: Callable[[str], str]) -> str:
    """HLS (RFC 8216): a line not starting with `#` is a URI; tags carry theirs in URI="..."."""
    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            line = _URI_ATTRIBUTE.sub(lambda match: f'URI="{resolve(match[1])}"', line)
        elif line.strip():
            line = resolve(line.strip())
        lines.append(line)
    return "\n".join(lines) + "\n"


def _sign_vtt(text: str, resolve: Callable[[str], str]) -> str:
    """A storyboard track: each cue's payload is an image reference with a media fragment
    (`storyboard.jpg#xywh=0,0,160,90`); the fragment is kept as it is."""
    lines = []
    in_cue = False
    for line in text.splitlines():
        if "-->" in line:
            in_cue = True
        elif not line.strip():
            in_cue = False
        elif in_cue:
            reference, hash_sign, fragment = line.strip().partition("#")
            line = f"{resolve(reference)}{hash_sign}{fragment}"
        lines.append(line)
    return "\n".join(lines) + "\n"
