"""Files: quota, uploads (through the API or straight to storage in parts), listing,
download links and deletion. Every object lives under `companies/{company_id}/`."""

import contextlib
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import Select, delete, func
from sqlalchemy.orm import Session

from app.background_tasks.names import QUEUE_DEFAULT, STORAGE_CHECKSUM, STORAGE_PURGE_FILE
from app.core.config import Settings
from app.core.database import refuse_with_record
from app.core.exceptions import (
    AppError,
    FileInUseError,
    FileTooLargeError,
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
from app.core.storage import (
    InvalidUploadError,
    ObjectNotFoundError,
    UploadedPart,
)
from app.core.task_queue import enqueue_after_commit
from app.models.company import Company
from app.models.storage import FileStatus, StoredFile
from app.services.object_keys import file_key
from app.services.pagination import PageParams, ResultPage, paginate
from app.services.plans import limits_for
from app.services.storage_domains import derived_bytes, file_uses
from app.services.tenant import ScopedService, StorageTenantService, lock_company
from app.utils.clock import utcnow
from app.utils.sniff import ALLOWED_TYPES, sanitize_filename, sniff_content_type

MIB = 1024**2
SNIFF_BYTES = 4096
MAX_PARTS = 10_000  # S3's ceiling, applied to every provider so clients see one rule


@dataclass(frozen=True, slots=True)
class StorageUsage:
    used_bytes: int
    reserved_bytes: int
    derived_bytes: int
    limit_bytes: int
    file_count: int

    @property
    def total_bytes(self) -> int:
        return self.used_bytes + self.reserved_bytes + self.derived_bytes


@dataclass(frozen=True, slots=True)
class FileFilters:
    status: FileStatus | None = None
    content_type_prefix: str | None = None
    filename_contains: str | None = None
    created_since: datetime | None = None
    created_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class DirectUpload:
    file: StoredFile
    part_size_bytes: int
    part_count: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PartUrl:
    part_number: int
    url: str
    expires_at: datetime


def measure_usage(scope: ScopedService, company: Company) -> StorageUsage:
    """The company's files by status, plus what every domain stores for it (`derived`)."""
    rows = scope.db.execute(
        scope.scoped(StoredFile)
        .with_only_columns(StoredFile.status, func.coalesce(func.sum(StoredFile.size_bytes), 0))
        .group_by(StoredFile.status)
    )
    by_status = {status: int(total) for status, total in rows}
    file_count = scope.db.scalar(
        scope.scoped(StoredFile).with_only_columns(func.count(StoredFile.id))
    )
    return StorageUsage(
        used_bytes=int(by_status.get(FileStatus.AVAILABLE, 0)),
        reserved_bytes=int(by_status.get(FileStatus.UPLOADING, 0)),
        derived_bytes=derived_bytes(scope),
        limit_bytes=limits_for(scope.db, company).storage_bytes,
        file_count=file_count or 0,
    )


def reserve_storage(scope: ScopedService, company: Company, nbytes: int) -> None:
    """Check that `nbytes` more fit the plan, holding the company row locked until the
    caller's transaction ends, so concurrent uploads are checked one after another and
    together can never exceed the quota."""
    lock_company(scope.db, company.id)
    usage = measure_usage(scope, company)
    if usage.total_bytes + nbytes > usage.limit_bytes:
        raise QuotaExceededError(
            f"This upload needs {nbytes} bytes but only "
            f"{max(0, usage.limit_bytes - usage.total_bytes)} of the {company.plan} "
            f"plan's {usage.limit_bytes} bytes are free.",
            details={
                "requested_bytes": nbytes,
                "used_bytes": usage.total_bytes,
                "limit_bytes": usage.limit_bytes,
            },
        )


def max_file_bytes(db: Session, settings: Settings, company: Company) -> int:
    return min(settings.UPLOAD_MAX_BYTES, limits_for(db, company).max_file_bytes)


def check_file_size(db: Session, settings: Settings, company: Company, size: int) -> None:
    limit = max_file_bytes(db, settings, company)
    if size > limit:
        raise FileTooLargeError(
            f"Files may be at most {limit} bytes ({limit / MIB:.0f} MiB) on the "
            f"{company.plan} plan; this one is {size} bytes.",
            details={"limit_bytes": limit, "size_bytes": size},
        )


def accepted_content_type(head: bytes) -> str:
    content_type = sniff_content_type(head)
    if content_type not in ALLOWED_TYPES:
        raise UnsupportedMediaTypeError(
            "Only images (JPEG, PNG, WebP, GIF) and videos (MP4, MOV, WebM, MKV, AVI, MPEG) "
            "are accepted; the content of this file is neither.",
            details={"accepted": sorted(ALLOWED_TYPES)},
        )
    return content_type


def part_size_for(settings: Settings, size: int) -> int:
    needed = math.ceil(size / MAX_PARTS)
    return max(settings.DIRECT_UPLOAD_PART_BYTES, math.ceil(needed / MIB) * MIB)


class FileService(StorageTenantService):
    # Reading
    def list_files(self, params: PageParams, filters: FileFilters) -> ResultPage[StoredFile]:
        statement = self._filtered(self.scoped(StoredFile), filters)
        return paginate(
            self.db, statement.order_by(StoredFile.created_at.desc(), StoredFile.id), params
        )

    def get(self, file_id: uuid.UUID, *, for_update: bool = False) -> StoredFile:
        return self.get_owned(StoredFile, file_id, "File", for_update=for_update)

    def usage(self) -> StorageUsage:
        return measure_usage(self, self.ctx.company)

    def download_url(self, stored: StoredFile) -> tuple[str, datetime]:
        self._require_available(stored)
        ttl = self.settings.STORAGE_URL_TTL_SECONDS
        url = self.storage.download_url(
            stored.storage_key, ttl, filename=stored.filename, content_type=stored.content_type
        )
        return url, utcnow() + timedelta(seconds=ttl)

    # Uploads through the API: reserve, stream (outside any transaction), then finish.
    def reserve_upload(self, filename: str, size: int) -> StoredFile:
        check_file_size(self.db, self.settings, self.ctx.company, size)
        reserve_storage(self, self.ctx.company, size)
        return self._new_file(filename, size)

    def finish_upload(
        self, file_id: uuid.UUID, size: int, sha256: str, content_type: str
    ) -> StoredFile:
        stored = self._uploading(file_id)
        stored.size_bytes = size
        stored.sha256 = sha256
        stored.content_type = content_type
        stored.status = FileStatus.AVAILABLE
        self._audit("storage.file_uploaded", stored)
        return stored

    def release_upload(self, file_id: uuid.UUID) -> None:
        """Give back the quota of an upload that failed; its bytes were never published."""
        stored = self.db.scalar(self.scoped(StoredFile).where(StoredFile.id == file_id))
        if stored is not None and stored.status == FileStatus.UPLOADING:
            self.db.delete(stored)

    # Direct uploads: the browser sends parts straight to storage.
    def initiate_direct_upload(
        self, filename: str, size: int, content_type: str | None
    ) -> DirectUpload:
        stored = self.reserve_upload(filename, size)
        stored.part_size_bytes = part_size_for(self.settings, size)
        expires_at = utcnow() + timedelta(hours=self.settings.DIRECT_UPLOAD_EXPIRY_HOURS)
        stored.upload_expires_at = expires_at
        stored.upload_id = self.storage.create_multipart_upload(stored.storage_key, content_type)
        return DirectUpload(stored, stored.part_size_bytes, part_count(stored), expires_at)

    def part_urls(self, file_id: uuid.UUID, part_numbers: list[int]) -> list[PartUrl]:
        stored = self._uploading(file_id)
        count = part_count(stored)
        if bad := [number for number in part_numbers if not 1 <= number <= count]:
            raise PartNumberInvalidError(
                f"This upload has parts 1 to {count}.", details={"invalid_parts": bad}
            )
        ttl = self.settings.DIRECT_UPLOAD_URL_TTL_SECONDS
        expires_at = utcnow() + timedelta(seconds=ttl)
        return [
            PartUrl(
                number,
                self.storage.part_upload_url(stored.storage_key, _upload_id(stored), number, ttl),
                expires_at,
            )
            for number in sorted(set(part_numbers))
        ]

    def received_parts(self, file_id: uuid.UUID) -> list[UploadedPart]:
        stored = self._uploading(file_id, for_update=True)
        with self._upload_in_storage(stored):
            return self.storage.list_parts(stored.storage_key, _upload_id(stored))

    def complete_direct_upload(
        self, file_id: uuid.UUID, parts: list[UploadedPart] | None
    ) -> StoredFile:
        stored = self._uploading(file_id, for_update=True)
        try:
            with self._upload_in_storage(stored):
                parts = parts or self.storage.list_parts(stored.storage_key, _upload_id(stored))
                self._check_all_parts(stored, parts)
                info = self.storage.complete_multipart_upload(
                    stored.storage_key, _upload_id(stored), parts
                )
        except InvalidUploadError as error:
            raise UploadPartsInvalidError(
                f"The parts cannot be joined ({error}). List the parts received and complete "
                "with their ETags; every part but the last must be part_size_bytes long.",
                details={"part_size_bytes": stored.part_size_bytes},
            ) from error
        if info.size != stored.size_bytes:
            self._discard(
                stored,
                UploadSizeMismatchError(
                    f"The parts hold {info.size} bytes but the upload declared "
                    f"{stored.size_bytes}; start a new upload.",
                    details={"received_bytes": info.size, "declared_bytes": stored.size_bytes},
                ),
            )
        head = self.storage.open_read(stored.storage_key, 0, SNIFF_BYTES - 1).read()
        try:
            stored.content_type = accepted_content_type(head)
        except UnsupportedMediaTypeError as error:
            self._discard(stored, error)
        stored.status = FileStatus.AVAILABLE
        stored.upload_id = None
        stored.upload_expires_at = None
        enqueue_after_commit(self.db, STORAGE_CHECKSUM, [str(stored.id)], queue=QUEUE_DEFAULT)
        self._audit("storage.file_uploaded", stored)
        return stored

    def abort_direct_upload(self, file_id: uuid.UUID) -> None:
        stored = self._uploading(file_id, for_update=True)
        with contextlib.suppress(ObjectNotFoundError):  # gone already: the wish is granted
            self.storage.abort_multipart_upload(stored.storage_key, _upload_id(stored))
        self.db.delete(stored)

    @contextlib.contextmanager
    def _upload_in_storage(self, stored: StoredFile) -> Iterator[None]:
        """Storage lost the multipart upload (a bucket lifecycle rule, an abort made
        elsewhere): forget it too, freeing its quota, and say so."""
        try:
            yield
        except ObjectNotFoundError:
            self._forget(
                stored,
                UploadLostError(
                    "This upload is no longer in storage (it expired or was aborted); its "
                    "reserved space is freed. Start a new upload.",
                    details={"file_id": str(stored.id)},
                ),
            )

    # Deleting
    def delete(self, file_id: uuid.UUID) -> None:
        stored = self.get(file_id, for_update=True)
        self._require_available(stored)
        uses = file_uses(self, stored.id)
        if uses:
            names = ", ".join(f"{use.kind} {use.name!r}" for use in uses)
            raise FileInUseError(
                f"This file is in use ({names}); delete what uses it first.",
                details={
                    "used_by": [
                        {"kind": use.kind, "id": str(use.id), "name": use.name} for use in uses
                    ]
                },
            )
        stored.soft_delete()
        self._audit("storage.file_deleted", stored)
        enqueue_after_commit(self.db, STORAGE_PURGE_FILE, [str(stored.id)], queue=QUEUE_DEFAULT)

    # Helpers
    def _new_file(self, filename: str, size: int) -> StoredFile:
        file_id = uuid.uuid4()
        stored = StoredFile(
            id=file_id,
            company_id=self.ctx.company_id,
            status=FileStatus.UPLOADING,
            filename=sanitize_filename(filename),
            size_bytes=size,
            storage_key=file_key(self.ctx.company_id, file_id),
            uploaded_by_id=self.ctx.user.id,
        )
        self.db.add(stored)
        self.db.flush()
        return stored

    def _uploading(self, file_id: uuid.UUID, *, for_update: bool = False) -> StoredFile:
        stored = self.get(file_id, for_update=for_update)
        if stored.status != FileStatus.UPLOADING:
            raise UploadCompleteError("This upload is already complete.")
        return stored

    def _require_available(self, stored: StoredFile) -> None:
        if stored.status != FileStatus.AVAILABLE:
            raise UploadIncompleteError("This file is still uploading.")

    def _check_all_parts(self, stored: StoredFile, parts: list[UploadedPart]) -> None:
        expected = list(range(1, part_count(stored) + 1))
        received = sorted(part.part_number for part in parts)
        if received != expected:
            missing = sorted(set(expected) - set(received))
            raise UploadPartsMissingError(
                f"Parts are missing: upload {len(missing)} more before completing.",
                details={"missing_parts": missing[:100], "expected_parts": len(expected)},
            )

    def _discard(self, stored: StoredFile, refusal: AppError) -> NoReturn:
        """The upload arrived but cannot be kept: delete its bytes and forget it."""
        self.storage.delete(stored.storage_key)
        self._forget(stored, refusal)

    def _forget(self, stored: StoredFile, refusal: AppError) -> NoReturn:
        """Refuse with `refusal`, deleting the upload's row for good (freeing its quota)."""
        file_id = stored.id
        refuse_with_record(
            self.db,
            refusal,
            lambda own: own.execute(delete(StoredFile).where(StoredFile.id == file_id)),
        )

    def _filtered(self, statement: Select[Any], filters: FileFilters) -> Select[Any]:
        if filters.status:
            statement = statement.where(StoredFile.status == filters.status)
        if filters.content_type_prefix:
            statement = statement.where(
                StoredFile.content_type.startswith(filters.content_type_prefix, autoescape=True)
            )
        if filters.filename_contains:
            statement = statement.where(
                StoredFile.filename.icontains(filters.filename_contains, autoescape=True)
            )
        if filters.created_since:
            statement = statement.where(StoredFile.created_at >= filters.created_since)
        if filters.created_until:
            statement = statement.where(StoredFile.created_at < filters.created_until)
        return statement

    def _audit(self, action: str, stored: StoredFile) -> None:
        changes = {"filename": stored.filename, "size_bytes": stored.size_bytes}
        self.audit(action, "file", stored.id, changes)


def part_count(stored: StoredFile) -> int:
    return max(1, math.ceil(stored.size_bytes / (stored.part_size_bytes or 1)))


def _upload_id(stored: StoredFile) -> str:
    if stored.upload_id is None:
        raise NotMultipartError("This file was uploaded through the API, not in parts.")
    return stored.upload_id
