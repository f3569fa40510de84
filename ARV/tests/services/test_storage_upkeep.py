"""Storage upkeep, as the beat and the default queue run it: each step acts as the system
actor of the company its file belongs to, and a sweep takes one company at a time."""

import hashlib
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.storage import StorageProvider
from app.models import Company, FileStatus, StoredFile
from app.services.object_keys import file_key
from app.services.storage_upkeep import (
    STALE_PROXIED_UPLOAD,
    compute_checksum,
    purge_abandoned_uploads,
    purge_file,
)
from app.utils.clock import utcnow
from tests.support.factories import make_company


def stored_file(
    db: Session,
    storage: StorageProvider,
    company: Company,
    data: bytes = b"bytes",
    *,
    status: FileStatus = FileStatus.AVAILABLE,
    age: timedelta = timedelta(0),
) -> StoredFile:
    file_id = uuid.uuid4()
    row = StoredFile(
        id=file_id,
        company_id=company.id,
        status=status,
        filename="a.bin",
        size_bytes=len(data),
        storage_key=file_key(company.id, file_id),
        created_at=utcnow() - age,
    )
    writer = storage.open_writer(row.storage_key)
    writer.write(data)
    writer.commit()
    db.add(row)
    db.flush()
    return row


def test_a_checksum_is_computed_once_from_the_stored_bytes(
    db: Session, storage: StorageProvider
) -> None:
    row = stored_file(db, storage, make_company(db), b"the original")
    expected = hashlib.sha256(b"the original").hexdigest()
    assert compute_checksum(db, storage, row.id) == expected
    assert row.sha256 == expected
    assert compute_checksum(db, storage, uuid.uuid4()) is None


def test_a_deleted_files_bytes_are_purged_once(db: Session, storage: StorageProvider) -> None:
    kept = stored_file(db, storage, make_company(db))
    deleted = stored_file(db, storage, make_company(db, name="Other"))
    deleted.soft_delete()
    db.flush()
    assert purge_file(db, storage, kept.id) is False
    assert purge_file(db, storage, deleted.id) is True
    assert purge_file(db, storage, deleted.id) is False
    assert storage.exists(kept.storage_key)
    assert not storage.exists(deleted.storage_key)
    assert deleted.purged_at is not None


def test_abandoned_uploads_of_every_company_are_discarded_one_company_at_a_time(
    db: Session, session_factory: sessionmaker[Session], storage: StorageProvider
) -> None:
    stale = STALE_PROXIED_UPLOAD + timedelta(hours=1)
    old = [
        stored_file(
            db, storage, make_company(db, name=name), status=FileStatus.UPLOADING, age=stale
        )
        for name in ("One", "Two")
    ]
    fresh = stored_file(db, storage, make_company(db, name="Three"), status=FileStatus.UPLOADING)
    done = stored_file(db, storage, make_company(db, name="Four"), age=stale)

    assert purge_abandoned_uploads(session_factory, storage, utcnow()) == 2
    left = set(
        db.scalars(
            select(StoredFile.id).where(StoredFile.id.in_([f.id for f in [*old, fresh, done]]))
        )
    )
    assert left == {fresh.id, done.id}
    assert not any(storage.exists(row.storage_key) for row in old)
    assert storage.exists(fresh.storage_key)
