"""Background upkeep of stored files: checksums of direct uploads, purging the bytes of
deleted files, and discarding uploads that were never finished. Each step is idempotent,
so a redelivered task does no harm, and each acts as the system actor of one company: the
file a task names decides which, and a sweep takes one company at a time."""

import hashlib
import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.background_tasks.names import (
    STORAGE_CHECKSUM,
    STORAGE_PURGE_ABANDONED_UPLOADS,
    STORAGE_PURGE_FILE,
)
from app.core.storage import StorageProvider
from app.models.storage import FileStatus, StoredFile
from app.services.tenant import ScopedService, for_each_company, system_scope
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)

READ_CHUNK_BYTES = 1024 * 1024
# An upload through the API that has not finished in a day died with its request.
STALE_PROXIED_UPLOAD = timedelta(days=1)
PURGE_BATCH = 500


def compute_checksum(db: Session, storage: StorageProvider, file_id: uuid.UUID) -> str | None:
    scope = system_scope(db, StoredFile, file_id, STORAGE_CHECKSUM)
    if scope is None:
        return None
    stored = scope.get_owned(StoredFile, file_id, "File")
    if stored.status != FileStatus.AVAILABLE:
        return None
    if stored.sha256 is None:
        digest = hashlib.sha256()
        with storage.open_read(stored.storage_key) as stream:
            while chunk := stream.read(READ_CHUNK_BYTES):
                digest.update(chunk)
        stored.sha256 = digest.hexdigest()
    return stored.sha256


def purge_file(db: Session, storage: StorageProvider, file_id: uuid.UUID) -> bool:
    scope = system_scope(db, StoredFile, file_id, STORAGE_PURGE_FILE)
    if scope is None:
        return False
    stored = scope.get_owned(StoredFile, file_id, "File", for_update=True, include_deleted=True)
    if stored.deleted_at is None or stored.purged_at is not None:
        return False
    storage.delete(stored.storage_key)
    stored.purged_at = utcnow()
    return True


def purge_abandoned_uploads(
    sessions: sessionmaker[Session], storage: StorageProvider, now: datetime
) -> int:
    """Abort uploads past their expiry (direct) or stale (through the API) and free the
    quota they held, one company at a time."""
    companies = select(StoredFile.company_id).where(_abandoned(now))
    purged = for_each_company(
        sessions,
        companies,
        STORAGE_PURGE_ABANDONED_UPLOADS,
        lambda scope: _purge_company_uploads(scope, storage, now),
    )
    if purged:
        logger.info("abandoned uploads purged", extra={"count": purged})
    return purged


def _abandoned(now: datetime) -> ColumnElement[bool]:
    return (StoredFile.status == FileStatus.UPLOADING) & or_(
        StoredFile.upload_expires_at < now,
        (StoredFile.upload_id.is_(None)) & (StoredFile.created_at < now - STALE_PROXIED_UPLOAD),
    )


def _purge_company_uploads(scope: ScopedService, storage: StorageProvider, now: datetime) -> int:
    abandoned = scope.db.scalars(
        scope.scoped(StoredFile)
        .where(_abandoned(now))
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    for stored in abandoned:
        _discard_bytes(storage, stored)
        scope.db.delete(stored)
    return len(abandoned)


def _discard_bytes(storage: StorageProvider, stored: StoredFile) -> None:
    if stored.upload_id:
        storage.abort_multipart_upload(stored.storage_key, stored.upload_id)
    storage.delete(stored.storage_key)
