"""Background upkeep of stored files: checksums of direct uploads, purging the bytes of
deleted files, and discarding uploads that were never finished. Each step is idempotent,
so a redelivered task does no harm."""

import hashlib
import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.core.storage import StorageProvider
from app.models.storage import FileStatus, StoredFile
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)

READ_CHUNK_BYTES = 1024 * 1024
# An upload through the API that has not finished in a day died with its request.
STALE_PROXIED_UPLOAD = timedelta(days=1)
PURGE_BATCH = 500


def compute_checksum(db: Session, storage: StorageProvider, file_id: uuid.UUID) -> str | None:
    stored = db.get(StoredFile, file_id)
    if stored is None or stored.status != FileStatus.AVAILABLE or stored.deleted_at:
        return None
    if stored.sha256 is None:
        digest = hashlib.sha256()
        with storage.open_read(stored.storage_key) as stream:
            while chunk := stream.read(READ_CHUNK_BYTES):
                digest.update(chunk)
        stored.sha256 = digest.hexdigest()
    return stored.sha256


def purge_file(db: Session, storage: StorageProvider, file_id: uuid.UUID) -> bool:
    stored = db.get(StoredFile, file_id, with_for_update=True)
    if stored is None or stored.deleted_at is None or stored.purged_at is not None:
        return False
    storage.delete(stored.storage_key)
    stored.purged_at = utcnow()
    return True


def purge_abandoned_uploads(db: Session, storage: StorageProvider, now: datetime) -> int:
    """Abort uploads past their expiry (direct) or stale (through the API) and free the
    quota they held."""
    abandoned = db.scalars(
        select(StoredFile)
        .where(
            StoredFile.status == FileStatus.UPLOADING,
            or_(
                StoredFile.upload_expires_at < now,
                (StoredFile.upload_id.is_(None))
                & (StoredFile.created_at < now - STALE_PROXIED_UPLOAD),
            ),
        )
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    for stored in abandoned:
        _discard_bytes(storage, stored)
        db.delete(stored)
    if abandoned:
        logger.info("abandoned uploads purged", extra={"count": len(abandoned)})
    return len(abandoned)


def _discard_bytes(storage: StorageProvider, stored: StoredFile) -> None:
    if stored.upload_id:
        storage.abort_multipart_upload(stored.storage_key, stored.upload_id)
    storage.delete(stored.storage_key)
