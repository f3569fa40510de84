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
from fastapi import APIRouter, Header, Path, Query, Request, status
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from app.api.deps import (
    DbSession,
    PageParamsDep,
    SessionFactoryDep,
    SettingsDep,
    StorageDep,
    tenant_service,
)
from app.api.openapi import BINARY_BODY, raises
from app.api.routes.tenant_common import TENANT, ContentWriter
from app.core.database import session_scope
from app.core.exceptions import (
    ContentLengthMismatchError,
    FileInUseError,
    FileTooLargeError,
    LengthRequiredError,
    NotFoundError,
    NotMultipartError,
    PartNumberInvalidError,
    QuotaExceededError,
    UnsupportedMediaTypeError,
    UploadCompleteError,
    UploadIncompleteError,
    UploadLostError,
    UploadPartsInvalidError,
    UploadPartsMissingError,
    UploadSizeMismatchError,
)
from app.core.permissions import Action
from app.core.storage import UploadedPart
from app.models.storage import FileStatus
from app.schemas.common import Page
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
FileId = Annotated[uuid.UUID, Path(description="The file's id.")]
FileReader = Annotated[FileService, tenant_service(FileService, Action.CONTENT_READ)]
FileWriter = Annotated[FileService, tenant_service(FileService, Action.CONTENT_WRITE)]
UploadId = Annotated[uuid.UUID, Path(description="The id of the file being uploaded.")]
# Every refusal of a new upload, before or after its bytes arrive.
UPLOAD_ERRORS = (QuotaExceededError, FileTooLargeError, UnsupportedMediaTypeError)
# Every refusal of a step of a direct upload in parts.
DIRECT_UPLOAD_ERRORS = (NotFoundError, UploadCompleteError, NotMultipartError)


@router.post(
    FILES,
    status_code=status.HTTP_201_CREATED,
    summary="Upload a file through the API (streamed)",
    description=(
        "Send the raw bytes as the request body with `Content-Length`. The body is streamed "
        "to storage, hashed (sha256) on the way and its type sniffed from the bytes. Quota "
        "is reserved before the first byte; an upload that fails keeps nothing."
    ),
    openapi_extra=BINARY_BODY,
)
@raises(LengthRequiredError, ContentLengthMismatchError, *UPLOAD_ERRORS)
async def upload_file(
    request: Request,
    ctx: ContentWriter,
    db: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
    sessions: SessionFactoryDep,
    filename: Annotated[
        str, Query(min_length=1, max_length=FILENAME_MAX_LENGTH, description="The file's name.")
    ],
    # Transport-level: every HTTP client sends it, so the document leaves it out.
    content_length: Annotated[int | None, Header(ge=0, include_in_schema=False)] = None,
) -> StoredFileResponse:
    if content_length is None:
        raise LengthRequiredError()
    check_file_size(db, settings, ctx.company, content_length)
    # The body may take minutes: give the request's connection back to the pool now (in a
    # worker thread: a database round trip must not block the event loop).
    await to_thread.run_sync(_release_connection, db)

    # Not the request's session (released above): each step of the upload opens its own.
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


@router.get(FILES, summary="List files")
def list_files(
    files: FileReader,
    page: PageParamsDep,
    file_status: Annotated[
        FileStatus | None, Query(alias="status", description="Only files in this state.")
    ] = None,
    content_type: Annotated[
        str | None,
        Query(max_length=100, description="Prefix of the sniffed type, e.g. `video/`."),
    ] = None,
    filename: Annotated[
        str | None, Query(max_length=FILENAME_MAX_LENGTH, description="Part of the name.")
    ] = None,
    created_since: Annotated[
        AwareDatetime | None, Query(description="Uploaded at or after, with a time zone.")
    ] = None,
    created_until: Annotated[
        AwareDatetime | None, Query(description="Uploaded before, with a time zone.")
    ] = None,
) -> Page[StoredFileResponse]:
    """Paginated, newest first, filtered by status, type, name and upload time."""
    filters = FileFilters(file_status, content_type, filename, created_since, created_until)
    result = files.list_files(page, filters)
    return Page[StoredFileResponse].model_validate(result, from_attributes=True)


@router.get(f"{FILES}/{{file_id}}", summary="One file")
@raises(NotFoundError)
def read_file(
    file_id: FileId,
    files: FileReader,
) -> StoredFileResponse:
    """Its status, type, size and checksum."""
    return StoredFileResponse.model_validate(files.get(file_id))


@router.get(
    f"{FILES}/{{file_id}}/download-link",
    summary="A short-lived download URL",
    description="Signed by the API (local storage) or presigned by S3; supports Range.",
)
@raises(NotFoundError, UploadIncompleteError)
def download_link(
    file_id: FileId,
    files: FileReader,
) -> DownloadLink:
    url, expires_at = files.download_url(files.get(file_id))
    return DownloadLink(url=url, expires_at=expires_at)


@router.delete(
    f"{FILES}/{{file_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a file",
    description="The file disappears at once; its bytes are purged in the background.",
)
@raises(NotFoundError, UploadIncompleteError, FileInUseError)
def delete_file(
    file_id: FileId,
    files: FileWriter,
) -> None:
    files.delete(file_id)


@router.get(f"{TENANT}/storage/usage", summary="Storage used and allowed")
def read_usage(
    files: FileReader,
) -> StorageUsageResponse:
    """Bytes in files, reserved by uploads in progress and derived by processing (renditions,
    stills), against the plan's quota."""
    usage = files.usage()
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
)
@raises(QuotaExceededError, FileTooLargeError)
def start_direct_upload(
    body: DirectUploadCreate,
    files: FileWriter,
) -> DirectUploadResponse:
    upload = files.initiate_direct_upload(body.filename, body.size_bytes, body.content_type)
    return DirectUploadResponse.model_validate(upload, from_attributes=True)


@router.post(f"{UPLOADS}/{{file_id}}/part-urls", summary="URLs to PUT parts to")
@raises(*DIRECT_UPLOAD_ERRORS, PartNumberInvalidError)
def part_urls(
    file_id: UploadId,
    body: PartUrlsRequest,
    files: FileWriter,
) -> list[PartUrlResponse]:
    """One presigned (S3) or signed (local) URL per part number; PUT the part's bytes to it and
    keep the answered ETag."""
    urls = files.part_urls(file_id, body.part_numbers)
    return [PartUrlResponse.model_validate(url, from_attributes=True) for url in urls]


@router.get(
    f"{UPLOADS}/{{file_id}}/parts",
    summary="Parts received so far (to resume)",
)
@raises(*DIRECT_UPLOAD_ERRORS, UploadLostError)
def received_parts(
    file_id: UploadId,
    files: FileWriter,
) -> list[UploadedPartResponse]:
    """The parts storage holds, with their ETags and sizes; send only the rest."""
    parts = files.received_parts(file_id)
    return [UploadedPartResponse.model_validate(part, from_attributes=True) for part in parts]


@router.post(
    f"{UPLOADS}/{{file_id}}/complete",
    summary="Finish a direct upload",
    description="Joins the parts, checks the size and sniffs the type.",
)
@raises(
    *DIRECT_UPLOAD_ERRORS,
    UploadLostError,
    UploadPartsMissingError,
    UploadPartsInvalidError,
    UploadSizeMismatchError,
    UnsupportedMediaTypeError,
)
def complete_direct_upload(
    file_id: UploadId,
    body: DirectUploadComplete,
    files: FileWriter,
) -> StoredFileResponse:
    parts = (
        [UploadedPart(part.part_number, part.etag, 0) for part in body.parts]
        if body.parts
        else None
    )
    stored = files.complete_direct_upload(file_id, parts)
    return StoredFileResponse.model_validate(stored)


@router.delete(
    f"{UPLOADS}/{{file_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Abandon a direct upload",
)
@raises(*DIRECT_UPLOAD_ERRORS)
def abort_direct_upload(
    file_id: UploadId,
    files: FileWriter,
) -> None:
    """Frees the reserved quota and drops the parts received."""
    files.abort_direct_upload(file_id)
