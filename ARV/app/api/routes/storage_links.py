"""Signed links to local storage: what S3's presigned URLs are when storage is a local
disk, so clients download and upload (whole or in parts) the same way on either provider.

The signature is the authorisation: these routes take no bearer token. They answer 404
when the configured provider is not local.
"""

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse

from app.api.delivery import (
    Expires,
    Signature,
    Validators,
    check_range,
    link_cache_control,
    link_errors,
    no_such_object,
    signed_query,
)
from app.api.deps import SettingsDep, StorageDep
from app.api.openapi import BINARY_BODY, raises
from app.core.exceptions import (
    ContentTypeMismatchError,
    LinkExpiredError,
    LinkInvalidError,
    MalformedRequestError,
    NotFoundError,
    PayloadTooLargeError,
    RangeNotSatisfiableError,
)
from app.core.storage.base import attachment_disposition
from app.core.storage.local import (
    MAX_PART_BYTES,
    MAX_PART_NUMBER,
    LocalFileWriter,
    LocalStorage,
    SignedLink,
)

router = APIRouter(prefix="/storage/local", tags=["storage-links"])

# Disk writes go to a worker thread in batches this big, keeping the event loop free
# without paying a thread hop for every 64 KiB chunk the server hands over.
WRITE_BATCH_BYTES = 1024 * 1024


@raises(NotFoundError)
def get_local_storage(storage: StorageDep) -> LocalStorage:
    if not isinstance(storage, LocalStorage):
        raise NotFoundError("Storage links are served only when storage is local.")
    return storage


LocalStorageDep = Annotated[LocalStorage, Depends(get_local_storage)]
ContentType = Annotated[
    str | None,
    Query(max_length=255, description="Signed: the Content-Type the link serves or takes."),
]
ObjectKey = Annotated[str, Path(description="The object's storage key.")]


@router.head(
    "/objects/{key:path}",
    summary="Headers of an object through a signed link, as GET answers them, without the body",
    description="Validators, size and type as GET answers them, for a client that checks "
    "before downloading.",
    response_class=Response,
    responses={
        200: {"description": "The headers GET would send."},
        206: {"description": "The headers of the requested byte range."},
        304: {"description": "The copy named by If-None-Match/If-Modified-Since is current."},
    },
)
@router.get(
    "/objects/{key:path}",
    summary="Download an object through a signed link",
    description="Supports `Range` (206), `If-None-Match`/`If-Modified-Since` (304) and "
    "`If-Range`. Outputs the pipeline writes once are served `immutable` for the link's "
    "remaining life; everything else must be revalidated.",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The object."},
        206: {"description": "The requested byte range."},
        304: {"description": "The copy named by If-None-Match/If-Modified-Since is current."},
    },
)
@raises(
    LinkInvalidError,
    LinkExpiredError,
    NotFoundError,
    MalformedRequestError,
    RangeNotSatisfiableError,
)
def download_object(
    key: ObjectKey,
    request: Request,
    storage: LocalStorageDep,
    expires: Expires = None,
    signature: Signature = None,
    filename: Annotated[
        str | None, Query(max_length=1024, description="Signed: the name to save it under.")
    ] = None,
    content_type: ContentType = None,
    immutable: Annotated[bool, Query(description="Signed: the bytes never change.")] = False,
) -> Response:
    signed = signed_query(expires, signature)
    link = SignedLink(
        "GET", key, signed.expires, filename, content_type=content_type, immutable=immutable
    )
    with link_errors():
        storage.verify_link(link, signed.signature)
    with no_such_object():
        path = storage.file_path(key)
        media_type = content_type or storage.stat(key).content_type
        stat = path.stat()
    validators = Validators(f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"', stat.st_mtime)
    headers = {
        **validators.headers(),
        "Cache-Control": link_cache_control(link.expires, immutable=immutable),
    }
    if filename:
        headers["Content-Disposition"] = attachment_disposition(filename)
    if validators.not_modified(request):
        return Response(status_code=304, headers=headers)
    check_range(request, validators, stat.st_size)
    return FileResponse(
        path,
        media_type=media_type or "application/octet-stream",
        headers=headers,
        stat_result=stat,
    )


@router.put(
    "/objects/{key:path}",
    summary="Upload an object, or one part of a multipart upload, through a signed link",
    description="The body is the object's (or the part's) bytes. A link signed for a "
    "Content-Type takes only that type, as on S3.",
    openapi_extra=BINARY_BODY,
    response_class=Response,
    responses={
        200: {"description": "Stored; the ETag header names it (quoted MD5, as S3 answers)."},
    },
)
@raises(
    LinkInvalidError,
    LinkExpiredError,
    ContentTypeMismatchError,
    PayloadTooLargeError,
    NotFoundError,
)
async def upload_object(
    key: ObjectKey,
    request: Request,
    storage: LocalStorageDep,
    settings: SettingsDep,
    expires: Expires = None,
    signature: Signature = None,
    content_type: ContentType = None,
    upload_id: Annotated[
        str | None, Query(max_length=64, description="Signed: the multipart upload of the part.")
    ] = None,
    part_number: Annotated[
        int | None, Query(ge=1, le=MAX_PART_NUMBER, description="Signed: which part this is.")
    ] = None,
) -> Response:
    signed = signed_query(expires, signature)
    link = SignedLink(
        "PUT",
        key,
        signed.expires,
        content_type=content_type,
        upload_id=upload_id,
        part_number=part_number,
    )
    with link_errors():
        storage.verify_link(link, signed.signature)
    # As on S3, a link signed for a content type takes only that one.
    sent_type = request.headers.get("content-type")
    if content_type is not None and sent_type != content_type:
        raise ContentTypeMismatchError(f"This link takes only Content-Type {content_type}.")
    limit = settings.UPLOAD_MAX_BYTES
    if link.part() is not None:
        limit = min(limit, MAX_PART_BYTES)
    _refuse_declared_size(request, limit)
    with no_such_object():
        writer = await to_thread.run_sync(_open_writer, storage, link, sent_type)
        await _receive(request.stream(), writer, limit)
    return Response(headers={"ETag": writer.etag})


def _refuse_declared_size(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"At most {limit} bytes may be sent to this link.")


def _open_writer(storage: LocalStorage, link: SignedLink, sent_type: str | None) -> LocalFileWriter:
    if part := link.part():
        return storage.open_part_writer(link.key, *part)
    return storage.open_writer(link.key, link.content_type or sent_type)


async def _receive(body: AsyncIterator[bytes], writer: LocalFileWriter, limit: int) -> None:
    """Stream `body` into `writer` and commit it; abort on any failure, disconnects too."""
    try:
        received = 0
        batch = bytearray()
        async for chunk in body:
            received += len(chunk)
            if received > limit:
                raise PayloadTooLargeError(f"At most {limit} bytes may be sent to this link.")
            batch += chunk
            if len(batch) >= WRITE_BATCH_BYTES:
                await to_thread.run_sync(writer.write, bytes(batch))
                batch.clear()
        if batch:
            await to_thread.run_sync(writer.write, bytes(batch))
        await to_thread.run_sync(writer.commit)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(writer.abort)
        raise
