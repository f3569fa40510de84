"""HTTP semantics shared by the routes that serve media to players and CDNs through signed
links (storage objects, rewritten playlists): the signed query parameters, conditional
requests (`ETag`/`If-None-Match`, `Last-Modified`/`If-Modified-Since`), byte ranges and
`Cache-Control`.

The signature is the authorisation on these routes: a link without one, with a forged one
or an expired one answers 403 (`link_invalid`, `link_expired`), never 422.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import FileResponse
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from app.core.exceptions import (
    LinkExpiredError,
    LinkInvalidError,
    MalformedRequestError,
    NotFoundError,
    RangeNotSatisfiableError,
)
from app.core.security import ExpiredLinkError, InvalidLinkError
from app.core.storage import InvalidKeyError, ObjectNotFoundError
from app.core.storage.base import immutable_cache_control

Expires = Annotated[
    str | None, Query(max_length=20, description="Unix time the link stops working.")
]
Signature = Annotated[str | None, Query(max_length=128, description="The link's HMAC, hex.")]
# Anything served without an immutability promise may change under its URL: caches keep
# it, but ask again (a 304 costs no body).
REVALIDATE = "private, no-cache"


@dataclass(frozen=True, slots=True)
class SignedQuery:
    expires: int
    signature: str


def signed_query(expires: str | None, signature: str | None) -> SignedQuery:
    """The link's expiry and signature, both present and well formed, or 403."""
    # isdigit() alone admits "²" or "٣", which int() refuses or reads as another number.
    if not expires or not signature or not (expires.isascii() and expires.isdigit()):
        raise LinkInvalidError("This link is not signed; ask for a new link.")
    return SignedQuery(int(expires), signature)


@contextmanager
def link_errors() -> Iterator[None]:
    try:
        yield
    except ExpiredLinkError as error:
        raise LinkExpiredError(str(error)) from error
    except InvalidLinkError as error:
        raise LinkInvalidError(str(error)) from error


@contextmanager
def no_such_object() -> Iterator[None]:
    """A key that leads nowhere (or out of the root) is, to the holder of a link, missing."""
    try:
        yield
    except (ObjectNotFoundError, InvalidKeyError, FileNotFoundError) as error:
        raise NotFoundError("Nothing is stored at this link.") from error


def link_cache_control(expires: int, *, immutable: bool) -> str:
    if immutable:
        return immutable_cache_control(expires - int(time.time()))
    return REVALIDATE


@dataclass(frozen=True, slots=True)
class Validators:
    """What a cache revalidates with: a strong entity tag, and the time of last change."""

    etag: str
    last_modified: float | None = None

    def headers(self) -> dict[str, str]:
        headers = {"ETag": self.etag}
        if self.last_modified is not None:
            headers["Last-Modified"] = formatdate(self.last_modified, usegmt=True)
        return headers

    def not_modified(self, request: Request) -> bool:
        """RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only
        without it. An unparseable date is ignored, as the RFC says."""
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or self.etag in tags
        if_modified_since = request.headers.get("if-modified-since")
        if if_modified_since is None or self.last_modified is None:
            return False
        try:
            since = parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError):
            return False
        return int(self.last_modified) <= since


def check_range(request: Request, validators: Validators, size: int) -> None:
    """Refuse, in the error envelope, a Range the file response would answer with a bare
    416 or 400. A Range under a stale If-Range is ignored (the whole object is sent)."""
    requested = request.headers.get("range")
    if requested is None:
        return
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range != validators.etag:
        return
    try:
        # Starlette's own parser, so what is refused here is exactly what it would refuse.
        FileResponse._parse_range_header(requested, size)
    except RangeNotSatisfiable as error:
        raise RangeNotSatisfiableError(size) from error
    except MalformedRangeHeader as error:
        raise MalformedRequestError(f"The Range header is not valid: {error.content}") from error
