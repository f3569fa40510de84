"""Files: upload (through the API, or straight to storage in parts), list, download,
delete, and the company's storage usage.

Large videos should go the direct way: the API hands out part URLs and never carries the
bytes. Uploading through the API streams the body to storage and suits images and small
files, and every file on the local provider.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Header, Query, Request, status
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from app.api.deps import (
    DbSession,
    PageParamsDep,
    SessionFactoryDep,
    SettingsDep,
    StorageDep,
)
from app.api.routes.tenant_common import TENANT, TENANT_ERRORS, ContentReader, ContentWriter
from app.core.database import session_scope
from app.core.exceptions import LengthRequiredError
from app.core.storage import UploadedPart
from app.models.storage import FileStatus
from app.schemas.common import Page, error_responses
from app.schemas.storage import (
    FILENAME_MAX_LENGTH,
    DirectUploadComplete,
    DirectUploadCreate,
    DirectUploadResponse,
    DownloadLink,
    PartUrlResponse,
    PartUrlsRequest,
    StorageUsageResponse,
    StoredFileResponse,
    UploadedPartResponse,
)
from app.services.storage_service import FileFilters, FileService, check_file_size
from app.services.uploads import upload_stream

router = APIRouter(tags=["storage"])
FILES = f"{TENANT}/storage/files"
UPLOADS = f"{TENANT}/storage/uploads"
UPLOAD_ERRORS = error_responses(
    {
        402: "The company's storage quota would be exceeded.",
        411: "Content-Length is missing.",
        413: "The file is larger than the plan allows.",
        415: "The bytes are not an accepted image or video.",
    }
)


@router.post(
    FILES,
    status_code=status.HTTP_201_CREATED,
    summary="Upload a file through the API (streamed)",
    description=(
        "Send the raw bytes as the request body with `Content-Length`. The body is streamed "
        "to storage, hashed (sha256) on the way and its type sniffed from the bytes. Quota "
        "is reserved before the first byte; an upload that fails keeps nothing."
    ),
    responses={**TENANT_ERRORS, **UPLOAD_ERRORS},
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {}}}},
)
async def upload_file(
    request: Request,
    ctx: ContentWriter,
    db: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
    sessions: SessionFactoryDep,
    filename: Annotated[str, Query(min_length=1, max_length=FILENAME_MAX_LENGTH)],
    content_length: Annotated[int | None, Header(ge=0)] = None,
) -> StoredFileResponse:
    if content_length is None:
        raise LengthRequiredError()
    check_file_size(settings, ctx.company, content_length)
    # The body may take minutes: give the request's connection back to the pool now (in a
    # worker thread: a database round trip must not block the event loop).
    await to_thread.run_sync(_release_connection, db)

    @contextmanager
    def file_service() -> Iterator[FileService]:
        with session_scope(sessions) as session:
            yield FileService(session, ctx, storage, settings)

    stored = await upload_stream(
        file_service, storage.open_writer, filename, content_length, request.stream()
    )
    return StoredFileResponse.model_validate(stored)


def _release_connection(db: Session) -> None:
    db.commit()
    db.close()


@router.get(FILES, summary="List files", responses=TENANT_ERRORS)
def list_files(
    ctx: ContentReader,
    db: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
    page: PageParamsDep,
    file_status: Annotated[FileStatus | None, Query(alias="status")] = None,
    content_type: Annotated[
        str | None,
        Query(max_length=100, description="Prefix of the sniffed type, e.g. `video/`."),
    ] = None,
    filename: Annotated[
        str | None, Query(max_length=FILENAME_MAX_LENGTH, description="Part of the name.")
    ] = None,
    created_since: AwareDatetime | None = None,
    created_until: AwareDatetime | None = None,
) -> Page[StoredFileResponse]:
    filters = FileFilters(file_status, content_type, filename, created_since, created_until)
    result = FileService(db, ctx, storage, settings).list_files(page, filters)
    return Page[StoredFileResponse].model_validate(result, from_attributes=True)


@router.get(f"{FILES}/{{file_id}}", summary="One file", responses=TENANT_ERRORS)
def read_file(
    file_id: uuid.UUID,
    ctx: ContentReader,
    db: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> StoredFileResponse:
    return StoredFileResponse.model_validate(FileService(db, ctx, storage, settings).get(file_id))


@router.get(
    f"{FILES}/{{file_id}}/download-link",
    summary="A short-lived download URL",
    description="Signed by the API (local storage) or presigned by S3; supports Range.",
    responses=TENANT_ERRORS,
)
def download_link(
    file_id: uuid.UUID,
    ctx: ContentReader,
    db: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> DownloadLink:
    service = FileService(db, ctx, storage, settings)
    url, expires_at = service.download_url(service.get(file_id))
    return DownloadLink(url=url, expires_at=expires_at)


@router.delete(
    f"{FILES}/{{file_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a file",
    description="The file disappears at once; its bytes are purged in the background.",
    responses={**TENANT_ERRORS, **error_responses({409: "A video is made from this file."})},
)
def delete_file(
    file_id: uuid.UUID,
    ctx: ContentWriter,
    db: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> None:
    FileService(db, ctx, storage, settings).delete(file_id)


@router.get(f"{TENANT}/storage/usage", summary="Storage used and allowed", responses=TENANT_ERRORS)
def storage_usage(
    ctx: ContentReader, db: DbSession, storage: StorageDep, settings: SettingsDep
) -> StorageUsageResponse:
    usage = FileService(db, ctx, storage, settings).usage()
    return StorageUsageResponse(
        used_bytes=usage.used_bytes,
        reserved_bytes=usage.reserved_bytes,
        derived_bytes=usage.derived_bytes,
        total_bytes=usage.total_bytes,
        limit_bytes=usage.limit_bytes,
        file_count=usage.file_count,
    )


@router.post(
    UPLOADS,
    status_code=status.HTTP_201_CREATED,
    summary="Start a direct upload in parts",
    description=(
        "Reserves the quota and opens a multipart upload. Then ask for part URLs, PUT each "
        "part to its URL, and complete. After a dropped connection, list the parts that "
        "arrived and send only the rest."
    ),
    responses={**TENANT_ERRORS, **UPLOAD_ERRORS},
)
def start_direct_upload(
    body: DirectUploadCreate,
    ctx: ContentWriter,
    db: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> DirectUploadResponse:
    upload = FileService(db, ctx, storage, settings).initiate_direct_upload(
        body.filename, body.size_bytes, body.content_type
    )
    return DirectUploadResponse.model_validate(upload, from_attributes=True)


@router.post(
    f"{UPLOADS}/{{file_id}}/part-urls", summary="URLs to PUT parts to", responses=TENANT_ERRORS
)
def part_urls(
    file_id: uuid.UUID,
    body: PartUrlsRequest,
    ctx: ContentWriter,
    db: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> list[PartUrlResponse]:
    urls = FileService(db, ctx, storage, settings).part_urls(file_id, body.part_numbers)
    return [PartUrlResponse.model_validate(url, from_attributes=True) for url in urls]


LOST_UPLOAD = "storage no longer holds the upload (expired or aborted); start a new one."


@router.get(
    f"{UPLOADS}/{{file_id}}/parts",
    summary="Parts received so far (to resume)",
    responses={**TENANT_ERRORS, **error_responses({409: LOST_UPLOAD})},
)
def received_parts(
    file_id: uuid.UUID,
    ctx: ContentWriter,
    db: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> list[UploadedPartResponse]:
    parts = FileService(db, ctx, storage, settings).received_parts(file_id)
    return [UploadedPartResponse.model_validate(part, from_attributes=True) for part in parts]


@router.post(
    f"{UPLOADS}/{{file_id}}/complete",
    summary="Finish a direct upload",
    description="Joins the parts, checks the size and sniffs the type.",
    responses={
        **TENANT_ERRORS,
        **UPLOAD_ERRORS,
        **error_responses({409: f"Parts missing, or: {LOST_UPLOAD}"}),
    },
)
def complete_direct_upload(
    file_id: uuid.UUID,
    body: DirectUploadComplete,
    ctx: ContentWriter,
    db: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> StoredFileResponse:
    parts = (
        [UploadedPart(part.part_number, part.etag, 0) for part in body.parts]
        if body.parts
        else None
    )
    stored = FileService(db, ctx, storage, settings).complete_direct_upload(file_id, parts)
    return StoredFileResponse.model_validate(stored)


@router.delete(
    f"{UPLOADS}/{{file_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Abandon a direct upload",
    responses=TENANT_ERRORS,
)
def abort_direct_upload(
    file_id: uuid.UUID,
    ctx: ContentWriter,
    db: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> None:
    FileService(db, ctx, storage, settings).abort_direct_upload(file_id)
