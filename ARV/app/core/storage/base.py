"""The storage interface every provider implements, and the rules for object keys.

Keys are relative, slash-separated paths such as `companies/{company_id}/files/{id}/original`.
A provider never lets a key escape its namespace: `validate_key` refuses absolute paths,
`..` and `.` segments, backslashes, control characters and empty segments.
"""

import builtins
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

MAX_KEY_LENGTH = 1024
_FORBIDDEN_KEY_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


class StorageError(Exception):
    """The provider failed (I/O, network, refused credentials)."""


class InvalidKeyError(StorageError, ValueError):
    """The key is not a safe relative path."""


class InvalidUploadError(StorageError):
    """The parts named do not make a valid multipart upload (the client's mistake: an
    unknown part or ETag, parts out of order, a part below the minimum size)."""


class ObjectNotFoundError(StorageError):
    """No object (or multipart upload) under that key."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class UploadedPart:
    part_number: int
    etag: str
    size: int


def validate_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(f"key must be 1 to {MAX_KEY_LENGTH} characters")
    if key.startswith("/") or _FORBIDDEN_KEY_CHARS.search(key):
        raise InvalidKeyError("key must be a relative path without control characters")
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        raise InvalidKeyError("key segments must not be empty, '.' or '..'")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: empty (everything) or the start of a valid key."""
    if prefix:
        validate_key(prefix.removesuffix("/"))
    return prefix


def validate_folder_prefix(prefix: str) -> str:
    """A prefix naming a whole folder, as bulk deletion needs: never empty, so one call
    cannot wipe the namespace, and ending with '/', so `companies/a/` spares `companies/ab/`."""
    if not prefix.endswith("/"):
        raise InvalidKeyError("a folder prefix must end with '/'")
    return validate_prefix(prefix)


def validate_range(start: int, end: int | None) -> None:
    """Byte positions for `open_read`; S3 would silently serve everything for a bad range."""
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid byte range {start}..{end}")


def attachment_disposition(filename: str) -> str:
    """`Content-Disposition` that makes a browser save the download as `filename` (RFC 6266)."""
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}"


def immutable_cache_control(max_age: int) -> str:
    """`Cache-Control` for bytes that never change under their key, cached for `max_age`
    seconds (the link's remaining life: past it, the URL no longer authorises anything)."""
    return f"public, max-age={max(0, max_age)}, immutable"


def company_prefix(company_id: uuid.UUID) -> str:
    """Every tenant-owned object lives under this prefix."""
    return f"companies/{company_id}/"


class ObjectWriter(ABC):
    """A streamed write: `write` chunks, then `commit` to publish the object or `abort`.

    Nothing is visible under the key before `commit`, and `abort` leaves nothing behind.
    Memory use is bounded by the provider's buffer, whatever the object's size.
    """

    @abstractmethod
    def write(self, chunk: bytes) -> None: ...

    @abstractmethod
    def commit(self) -> int:
        """Publish the object; returns its size in bytes."""

    @abstractmethod
    def abort(self) -> None: ...


class StorageProvider(ABC):
    name: str

    @abstractmethod
    def open_writer(self, key: str, content_type: str | None = None) -> ObjectWriter: ...

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> int:
        """Store `data` under `key` whole, or leave nothing; its size."""
        writer = self.open_writer(key, content_type)
        try:
            writer.write(data)
            return writer.commit()
        except BaseException:
            writer.abort()
            raise

    @abstractmethod
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        """Store a local file under `key` (workers publishing their outputs)."""

    @abstractmethod
    def download_file(self, key: str, path: Path) -> None:
        """Copy the object to a local file (workers fetching an original)."""

    @abstractmethod
    def open_read(self, key: str, start: int = 0, end: int | None = None) -> BinaryIO:
        """A readable stream of bytes `start..end` (inclusive; `None` to the end)."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove one object; removing a missing object is not an error."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix` (which must end with '/'); returns the count."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]: ...

    @abstractmethod
    def download_url(
        self,
        key: str,
        expires_in: int,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        immutable: bool = False,
    ) -> str:
        """An absolute URL anyone holding it may GET (with Range) until it expires.

        `immutable`: the caller promises the key's bytes never change (outputs are written
        once under keys of their own), so responses may be cached for the link's lifetime
        without revalidation."""

    @abstractmethod
    def upload_url(self, key: str, expires_in: int, content_type: str | None = None) -> str:
        """An absolute URL the holder may PUT one whole object to until it expires."""

    # Multipart uploads, for large files sent straight from the browser in parts.
    @abstractmethod
    def create_multipart_upload(self, key: str, content_type: str | None = None) -> str:
        """Start an upload; returns its upload id."""

    @abstractmethod
    def part_upload_url(self, key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        """An absolute URL to PUT part `part_number` (1-based) to; the response's ETag
        header names the part for `complete_multipart_upload`."""

    @abstractmethod
    def list_parts(self, key: str, upload_id: str) -> builtins.list[UploadedPart]:
        """Parts received so far, by part number: what a resumed upload may skip."""

    @abstractmethod
    def complete_multipart_upload(
        self, key: str, upload_id: str, parts: builtins.list[UploadedPart]
    ) -> ObjectInfo:
        """Join the parts (ETags must match what was received) into the object."""

    @abstractmethod
    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts; aborting an unknown upload is not an error."""

    @abstractmethod
    def check(self) -> None:
        """Raise if the provider cannot serve now (readiness)."""
