"""Playlists and tracks for players: a video's HLS playlists and storyboard WebVTT, with
every URI inside them signed, so a player that follows them never loses the signature.

The signature is the authorisation: no bearer token. Links come from `media-links` (and
from the playlists these routes serve); they work on either storage provider.
"""

import time
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from app.api.delivery import (
    Expires,
    Signature,
    Validators,
    link_errors,
    no_such_object,
    signed_query,
)
from app.api.deps import MediaDeliveryDep
from app.api.openapi import raises
from app.core.exceptions import LinkExpiredError, LinkInvalidError, NotFoundError

router = APIRouter(tags=["media"])
DOCUMENT = "/media/{key:path}"
# Players fetch a VOD playlist once per playback; a short life lets a cache absorb a burst.
DOCUMENT_CACHE_SECONDS = 60
DocumentKey = Annotated[
    str, Path(description="The playlist's or track's storage key, as the signed link names it.")
]


@router.head(
    DOCUMENT,
    summary="Headers of a signed playlist or track, without the body",
    description="What GET answers, `Content-Length` and `ETag` included, without the body.",
    response_class=Response,
    responses={
        200: {"description": "The headers GET would send."},
        304: {"description": "The copy named by If-None-Match is current."},
    },
)
@router.get(
    DOCUMENT,
    summary="A video's HLS playlist or storyboard track, with every URI inside signed",
    description="Variant playlists and tracks point back here; segments and images point "
    "at storage's own signed links. Every nested link expires with this one. The body is "
    "the same until then: revalidate with `If-None-Match` (304).",
    response_class=Response,
    responses={
        200: {
            "content": {"application/vnd.apple.mpegurl": {}, "text/vtt": {}},
            "description": "The playlist (`.m3u8`) or the track (`.vtt`).",
        },
        304: {"description": "The copy named by If-None-Match is current."},
    },
)
@raises(LinkInvalidError, LinkExpiredError, NotFoundError)
def read_document(
    key: DocumentKey,
    request: Request,
    delivery: MediaDeliveryDep,
    expires: Expires = None,
    signature: Signature = None,
) -> Response:
    signed = signed_query(expires, signature)
    with link_errors():
        delivery.verify(key, signed.expires, signed.signature)
    with no_such_object():
        document = delivery.render(key, signed.expires)
    validators = Validators(document.etag)
    max_age = max(0, min(DOCUMENT_CACHE_SECONDS, signed.expires - int(time.time())))
    headers = {**validators.headers(), "Cache-Control": f"private, max-age={max_age}"}
    if validators.not_modified(request):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(document.body))
        return Response(headers=headers, media_type=document.media_type)
    return Response(document.body, headers=headers, media_type=document.media_type)
