"""Uploads streamed through the API: the body goes to the storage provider in batches as
it arrives, hashed on the way, never held whole in memory, and no database connection is
held while the bytes flow. Quota is reserved before the first byte and given back if the
upload fails."""

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from anyio import to_thread

from app.core.exceptions import ContentLengthMismatchError
from app.core.storage import ObjectWriter
from app.models.storage import StoredFile
from app.services.storage_service import SNIFF_BYTES, FileService, accepted_content_type

# Chunks from the server are small (64 KiB); writing them in 1 MiB batches keeps the
# hop to a worker thread (which keeps the event loop free) off the profile.
BATCH_BYTES = 1024 * 1024

FileServiceScope = Callable[[], AbstractContextManager[FileService]]


@dataclass
class _Received:
    expected: int
    size: int = 0
    head: bytes = b""
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)

    def add(self, batch: bytes) -> None:
        self.size += len(batch)
        if self.size > self.expected:
            raise ContentLengthMismatchError(
                f"The body is longer than its Content-Length ({self.expected} bytes)."
            )
        if len(self.head) < SNIFF_BYTES:
            self.head += batch[: SNIFF_BYTES - len(self.head)]
        self.digest.update(batch)


async def upload_stream(
    services: FileServiceScope,
    writer_for: Callable[[str], ObjectWriter],
    filename: str,
    declared_size: int,
    body: AsyncIterator[bytes],
) -> StoredFile:
    """Store `body` as a new file. `services()` opens a short unit of work (own session,
    committed on exit) each time it is entered."""
    file_id, key = await to_thread.run_sync(_reserve, services, filename, declared_size)
    writer = await to_thread.run_sync(writer_for, key)  # opens a file or a connection
    try:
        received = await _stream(body, writer, declared_size)
        content_type = accepted_content_type(received.head)
        await to_thread.run_sync(writer.commit)
    except BaseException:
        await to_thread.run_sync(_give_back, services, writer, file_id)
        raise
    return await to_thread.run_sync(
        _finish, services, file_id, received.size, received.digest.hexdigest(), content_type
    )


async def _stream(body: AsyncIterator[bytes], writer: ObjectWriter, expected: int) -> _Received:
    received = _Received(expected)
    batch = bytearray()
    async for chunk in body:
        batch += chunk
        if len(batch) >= BATCH_BYTES:
            await to_thread.run_sync(_write, received, writer, bytes(batch))
            batch.clear()
    if batch:
        await to_thread.run_sync(_write, received, writer, bytes(batch))
    if received.size != expected:
        raise ContentLengthMismatchError(
            f"The body ended after {received.size} of the {expected} bytes announced; "
            "nothing was stored."
        )
    return received


def _write(received: _Received, writer: ObjectWriter, batch: bytes) -> None:
    received.add(batch)
    writer.write(batch)


def _reserve(services: FileServiceScope, filename: str, size: int) -> tuple[uuid.UUID, str]:
    with services() as service:
        stored = service.reserve_upload(filename, size)
        return stored.id, stored.storage_key


def _finish(
    services: FileServiceScope, file_id: uuid.UUID, size: int, sha256: str, content_type: str
) -> StoredFile:
    with services() as service:
        return service.finish_upload(file_id, size, sha256, content_type)


def _give_back(services: FileServiceScope, writer: ObjectWriter, file_id: uuid.UUID) -> None:
    writer.abort()
    with services() as service:
        service.release_upload(file_id)
