"""Signed links to local storage: what S3's presigned URLs are when storage is a local
disk, so clients download and upload (whole or in parts) the same way on either provider.

The signature is the authorisation: these routes take no bearer token. They answer 404
when the configured provider is not local.
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated

import anyio
from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse

from app.api.deps import SettingsDep, StorageDep
from app.core.exceptions import NotFoundError, PayloadTooLargeError, PermissionDeniedError
from app.core.storage import InvalidKeyError, ObjectNotFoundError
from app.core.storage.base import attachment_disposition
from app.core.storage.local import (
    MAX_PART_BYTES,
    MAX_PART_NUMBER,
    InvalidLinkError,
    LocalFileWriter,
    LocalStorage,
    SignedLink,
)
from app.schemas.common import error_responses

router = APIRouter(prefix="/storage/local", tags=["storage links"])

# Disk writes go to a worker thread in batches this big, keeping the event loop free
# without paying a thread hop for every 64 KiB chunk the server hands over.
WRITE_BATCH_BYTES = 1024 * 1024


def get_local_storage(storage: StorageDep) -> LocalStorage:
    if not isinstance(storage, LocalStorage):
        raise NotFoundError("Storage links are served only when storage is local.")
    return storage


LocalStorageDep = Annotated[LocalStorage, Depends(get_local_storage)]
Expires = Annotated[int, Query(description="Unix time the link stops working.")]
Signature = Annotated[str, Query(max_length=128, description="The link's HMAC-SHA256, hex.")]
ContentType = Annotated[str | None, Query(max_length=255)]


@router.get(
    "/objects/{key:path}",
    summary="Download an object through a signed link (Range requests supported)",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The object."},
        206: {"description": "The requested byte range."},
        416: {"description": "The range starts past the end of the object."},
        **error_responses({403: "Forged, altered or expired link.", 404: "No such object."}),
    },
)
def download_object(
    key: str,
    storage: LocalStorageDep,
    expires: Expires,
    signature: Signature,
    filename: Annotated[str | None, Query(max_length=1024)] = None,
    content_type: ContentType = None,
) -> FileResponse:
    link = SignedLink("GET", key, expires, filename, content_type=content_type)
    _verify(storage, link, signature)
    with _no_such_object():
        path = storage.file_path(key)
        media_type = content_type or storage.stat(key).content_type
    headers = {"Content-Disposition": attachment_disposition(filename)} if filename else None
    return FileResponse(path, media_type=media_type or "application/octet-stream", headers=headers)


@router.put(
    "/objects/{key:path}",
    summary="Upload an object, or one part of a multipart upload, through a signed link",
    response_class=Response,
    responses={
        200: {"description": "Stored; the ETag header names it (quoted MD5, as S3 answers)."},
        **error_responses(
            {
                403: "Forged, altered or expired link, or a Content-Type other than signed.",
                404: "No such multipart upload.",
                413: "The body is too large.",
            }
        ),
    },
)
async def upload_object(
    key: str,
    request: Request,
    storage: LocalStorageDep,
    settings: SettingsDep,
    expires: Expires,
    signature: Signature,
    content_type: ContentType = None,
    upload_id: Annotated[str | None, Query(max_length=64)] = None,
    part_number: Annotated[int | None, Query(ge=1, le=MAX_PART_NUMBER)] = None,
) -> Response:
    link = SignedLink(
        "PUT",
        key,
        expires,
        content_type=content_type,
        upload_id=upload_id,
        part_number=part_number,
    )
    _verify(storage, link, signature)
    # As on S3, a link signed for a content type takes only that one.
    sent_type = request.headers.get("content-type")
    if content_type is not None and sent_type != content_type:
        raise PermissionDeniedError(f"This link takes only Content-Type {content_type}.")
    limit = settings.UPLOAD_MAX_BYTES
    if link.part() is not None:
        limit = min(limit, MAX_PART_BYTES)
    _refuse_declared_size(request, limit)
    with _no_such_object():
        writer = await to_thread.run_sync(_open_writer, storage, link, sent_type)
        await _receive(request.stream(), writer, limit)
    return Response(headers={"ETag": writer.etag})


def _verify(storage: LocalStorage, link: SignedLink, signature: str) -> None:
    try:
        storage.verify_link(link, signature)
    except InvalidLinkError as error:
        raise PermissionDeniedError(str(error)) from error


@contextmanager
def _no_such_object() -> Iterator[None]:
    """A key that leads nowhere (or out of the root) is, to the holder of a link, missing."""
    try:
        yield
    except (ObjectNotFoundError, InvalidKeyError) as error:
        raise NotFoundError("Nothing is stored at this link.") from error


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
