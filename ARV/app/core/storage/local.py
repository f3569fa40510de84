"""Storage on a local disk, for development and single-machine installs.

Objects are files at their key's path under the root. Everything else lives in the
reserved `.arvlite/` folder, which no key may enter and no listing shows:

    .arvlite/tmp/              writes in progress, published by an atomic rename
    .arvlite/types/<key>       an object's content type, when it has one
    .arvlite/uploads/<id>/     a multipart upload: `upload.json` and its received parts

Links point at the API's `/storage/local/objects/` routes, which stand in for S3's
presigned URLs, so clients download and upload (whole or in parts) the same way whatever
the provider. A link carries an HMAC over everything it allows: method, key, expiry and
its other parameters.

A committed object is fsynced before its rename: the rename alone makes it appear whole
or not at all, but after a power cut the file could come back empty while the database
already says the upload succeeded.
"""

import builtins
import contextlib
import functools
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, ParamSpec, TypeVar
from urllib.parse import quote, urlencode

from app.core.security import hmac_sign, verify_link_signature
from app.core.storage.base import (
    InvalidKeyError,
    InvalidUploadError,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectWriter,
    StorageError,
    StorageProvider,
    UploadedPart,
    validate_folder_prefix,
    validate_key,
    validate_prefix,
    validate_range,
)

INTERNAL_DIR = ".arvlite"
OBJECTS_PATH = "/api/v1/storage/local/objects/"
# S3's rules for multipart uploads, kept here so a client that works locally works on S3.
MIN_PART_BYTES = 5 * 1024**2
MAX_PART_BYTES = 5 * 1024**3
MAX_PART_NUMBER = 10_000
COPY_BUFFER_BYTES = 1024 * 1024

_MANIFEST = "upload.json"
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PART_FILE = re.compile(r"part-(\d{5})-([0-9a-f]{32})")

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

P = ParamSpec("P")
R = TypeVar("R")


def _disk_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Report the operating system's failures (disk full, permissions) as StorageError."""

    @functools.wraps(method)
    def translated(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except OSError as error:
            raise StorageError(f"local storage: {error}") from error

    return translated


@dataclass(frozen=True, slots=True)
class SignedLink:
    """What a link lets its holder do; the signature covers every field."""

    method: Literal["GET", "PUT"]
    key: str
    expires: int
    filename: str | None = None
    content_type: str | None = None
    upload_id: str | None = None
    part_number: int | None = None
    # The bytes under `key` never change: served with an immutable Cache-Control.
    immutable: bool = False

    def part(self) -> tuple[str, int] | None:
        """(upload id, part number) when the link is for one part of a multipart upload."""
        if self.upload_id is None or self.part_number is None:
            return None
        return self.upload_id, self.part_number

    def message(self) -> bytes:
        return json.dumps(astuple(self)).encode()

    def query(self) -> dict[str, str]:
        params = {
            "expires": self.expires,
            "filename": self.filename,
            "content_type": self.content_type,
            "upload_id": self.upload_id,
            "part_number": self.part_number,
            "immutable": "true" if self.immutable else None,
        }
        return {name: str(value) for name, value in params.items() if value is not None}


def quoted_etag(md5_hex: str) -> str:
    return f'"{md5_hex}"'


class LocalFileWriter(ObjectWriter):
    """Chunks go straight to a temporary file, hashed on the way; `commit` makes the file
    durable and hands it to `publish` (with its MD5), which renames it into place."""

    def __init__(self, temp_path: Path, publish: Callable[[Path, str], None]) -> None:
        self._temp_path = temp_path
        self._publish = publish
        self._file = temp_path.open("xb")
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._size = 0

    @property
    def etag(self) -> str:
        """The MD5 of what was written, quoted, as S3 answers a PUT."""
        return quoted_etag(self._md5.hexdigest())

    @_disk_errors
    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._md5.update(chunk)
        self._size += len(chunk)

    @_disk_errors
    def commit(self) -> int:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._publish(self._temp_path, self._md5.hexdigest())
        except BaseException:
            self.abort()
            raise
        return self._size

    @_disk_errors
    def abort(self) -> None:
        self._file.close()
        self._temp_path.unlink(missing_ok=True)


class _FileSlice(io.RawIOBase):
    """At most `length` bytes of `file`, from where it stands."""

    def __init__(self, file: io.BufferedReader, length: int) -> None:
        self._file = file
        self._remaining = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "WriteableBuffer") -> int:
        count = self._file.readinto(memoryview(buffer)[: self._remaining])
        self._remaining -= count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


@dataclass(frozen=True, slots=True)
class _Upload:
    folder: Path
    content_type: str | None

    def part_path(self, part_number: int, md5_hex: str) -> Path:
        return self.folder / f"part-{part_number:05d}-{md5_hex}"

    def received_parts(self) -> dict[int, UploadedPart]:
        """The newest file for each part number: a part sent again replaces the older one,
        which `publish_part` removes right after."""
        found = [
            (entry.stat(), match)
            for entry in os.scandir(self.folder)
            if (match := _PART_FILE.fullmatch(entry.name))
        ]
        found.sort(key=lambda item: item[0].st_mtime_ns)
        return {
            int(match[1]): UploadedPart(int(match[1]), quoted_etag(match[2]), stat.st_size)
            for stat, match in found
        }

    def publish_part(self, part_number: int, temp: Path, md5_hex: str) -> None:
        target = self.part_path(part_number, md5_hex)
        try:
            os.replace(temp, target)
        except FileNotFoundError as error:
            raise ObjectNotFoundError("the upload was aborted while the part arrived") from error
        for older in self.folder.glob(f"part-{part_number:05d}-*"):
            if older != target:
                older.unlink(missing_ok=True)


class LocalStorage(StorageProvider):
    name = "local"

    def __init__(self, root: Path, public_base_url: str, signing_key: bytes) -> None:
        self.root = root.resolve()
        self._internal = self.root / INTERNAL_DIR
        self._public_base_url = public_base_url.rstrip("/")
        self._signing_key = signing_key

    # Objects
    @_disk_errors
    def open_writer(self, key: str, content_type: str | None = None) -> LocalFileWriter:
        self._path(key)
        return LocalFileWriter(
            self._new_temp_path(),
            lambda temp, _md5: self._publish(key, temp, content_type),
        )

    @_disk_errors
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        self._store_joined(key, [path], content_type)

    @_disk_errors
    def download_file(self, key: str, path: Path) -> None:
        shutil.copyfile(self.file_path(key), path)

    @_disk_errors
    def open_read(self, key: str, start: int = 0, end: int | None = None) -> BinaryIO:
        validate_range(start, end)
        path = self.file_path(key)
        size = path.stat().st_size
        if (start, end) != (0, None) and start >= size:
            raise StorageError(f"range starts at {start}, past the {size} bytes of {key!r}")
        file = path.open("rb")
        file.seek(start)
        if end is None:
            return file
        return io.BufferedReader(_FileSlice(file, end + 1 - start))

    @_disk_errors
    def stat(self, key: str) -> ObjectInfo:
        size = self.file_path(key).stat().st_size
        return ObjectInfo(key, size, self._content_type(key))

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    @_disk_errors
    def delete(self, key: str) -> None:
        _remove_file(self._path(key))
        _remove_file(self._type_path(key))

    @_disk_errors
    def delete_prefix(self, prefix: str) -> int:
        keys = [info.key for info in self.list(validate_folder_prefix(prefix))]
        for key in keys:
            self.delete(key)
        _prune_empty_folders(self._path(prefix.removesuffix("/")))
        _prune_empty_folders(self._type_path(prefix))
        return len(keys)

    @_disk_errors
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """In key order, as S3 lists; sizes only (`stat` tells the content type)."""
        parent = validate_prefix(prefix).rpartition("/")[0]
        folder = self._path(parent) if parent else self.root
        found = [
            ObjectInfo(path.relative_to(self.root).as_posix(), size)
            for path, size in self._files_under(folder)
        ]
        return iter(sorted((info for info in found if info.key.startswith(prefix)), key=_by_key))

    def file_path(self, key: str) -> Path:
        """The file holding the object (to serve it); ObjectNotFoundError if there is none."""
        path = self._path(key)
        try:
            is_file = path.is_file()
        except OSError as error:  # e.g. a name longer than the filesystem allows
            raise ObjectNotFoundError(f"no object {key!r}") from error
        if not is_file:
            raise ObjectNotFoundError(f"no object {key!r}")
        return path

    # Links
    def download_url(
        self,
        key: str,
        expires_in: int,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        immutable: bool = False,
    ) -> str:
        link = SignedLink(
            "GET",
            _checked_key(key),
            _expiry(expires_in),
            filename,
            content_type=content_type,
            immutable=immutable,
        )
        return self.url_for(link)

    def upload_url(self, key: str, expires_in: int, content_type: str | None = None) -> str:
        link = SignedLink("PUT", _checked_key(key), _expiry(expires_in), content_type=content_type)
        return self.url_for(link)

    def url_for(self, link: SignedLink) -> str:
        query = {**link.query(), "signature": hmac_sign(self._signing_key, link.message())}
        return f"{self._public_base_url}{OBJECTS_PATH}{quote(link.key)}?{urlencode(query)}"

    def verify_link(self, link: SignedLink, signature: str) -> None:
        """Raises `InvalidLinkError` (or `ExpiredLinkError`) from `app.core.security`."""
        verify_link_signature(self._signing_key, link.message(), signature, link.expires)

    # Multipart uploads
    @_disk_errors
    def create_multipart_upload(self, key: str, content_type: str | None = None) -> str:
        self._path(key)
        upload_id = secrets.token_hex(16)
        folder = self._internal / "uploads" / upload_id
        folder.mkdir(parents=True)
        manifest = {"key": key, "content_type": content_type}
        _write_atomically(folder / _MANIFEST, json.dumps(manifest).encode())
        return upload_id

    def part_upload_url(self, key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        link = SignedLink(
            "PUT",
            _checked_key(key),
            _expiry(expires_in),
            upload_id=upload_id,
            part_number=part_number,
        )
        return self.url_for(link)

    @_disk_errors
    def open_part_writer(self, key: str, upload_id: str, part_number: int) -> LocalFileWriter:
        """Receive one part (what a part URL's PUT calls); its `etag` names it."""
        if not 1 <= part_number <= MAX_PART_NUMBER:
            raise StorageError(f"part numbers run from 1 to {MAX_PART_NUMBER}")
        upload = self._upload(key, upload_id)
        temp = upload.folder / f".{secrets.token_hex(8)}.tmp"
        return LocalFileWriter(temp, functools.partial(upload.publish_part, part_number))

    @_disk_errors
    def list_parts(self, key: str, upload_id: str) -> builtins.list[UploadedPart]:
        parts = self._upload(key, upload_id).received_parts()
        return [parts[number] for number in sorted(parts)]

    @_disk_errors
    def complete_multipart_upload(
        self, key: str, upload_id: str, parts: builtins.list[UploadedPart]
    ) -> ObjectInfo:
        upload = self._upload(key, upload_id)
        chosen = _check_parts(parts, upload.received_parts())
        size = self._store_joined(
            key,
            [upload.part_path(p.part_number, _unquoted(p.etag)) for p in chosen],
            upload.content_type,
        )
        shutil.rmtree(upload.folder, ignore_errors=True)
        return ObjectInfo(key, size, upload.content_type)

    @_disk_errors
    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        try:
            upload = self._upload(key, upload_id)
        except ObjectNotFoundError:
            return
        shutil.rmtree(upload.folder, ignore_errors=True)

    def check(self) -> None:
        if not self.root.is_dir():
            raise StorageError(f"storage root {self.root} does not exist")
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"storage root {self.root} is not writable")

    # Internals
    def _path(self, key: str) -> Path:
        """Where `key` lives; refused if it leads out of the object area, symlinks included."""
        path = self.root / _checked_key(key)
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError) as error:  # a symlink loop
            raise InvalidKeyError(f"key {key!r} cannot be resolved") from error
        if not resolved.is_relative_to(self.root) or resolved.is_relative_to(self._internal):
            raise InvalidKeyError(f"key {key!r} leads outside the storage root")
        return path

    def _type_path(self, key_or_prefix: str) -> Path:
        return self._internal / "types" / key_or_prefix

    def _content_type(self, key: str) -> str | None:
        try:
            return self._type_path(key).read_text()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _new_temp_path(self) -> Path:
        folder = self._internal / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / secrets.token_hex(16)

    def _publish(self, key: str, temp: Path, content_type: str | None) -> None:
        target = self._path(key)
        if content_type is None:
            self._type_path(key).unlink(missing_ok=True)
        else:
            _write_atomically(self._type_path(key), content_type.encode())
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)

    def _store_joined(
        self, key: str, sources: builtins.list[Path], content_type: str | None
    ) -> int:
        """Publish the concatenation of `sources` under `key`; returns its size."""
        self._path(key)
        temp = self._new_temp_path()
        try:
            with temp.open("xb") as joined:
                for source in sources:
                    with source.open("rb") as part:
                        shutil.copyfileobj(part, joined, COPY_BUFFER_BYTES)
                joined.flush()
                os.fsync(joined.fileno())
                size = joined.tell()
            self._publish(key, temp, content_type)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return size

    def _upload(self, key: str, upload_id: str) -> _Upload:
        _checked_key(key)
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise ObjectNotFoundError(f"no multipart upload {upload_id!r}")
        folder = self._internal / "uploads" / upload_id
        try:
            manifest = json.loads((folder / _MANIFEST).read_bytes())
        except FileNotFoundError as error:
            raise ObjectNotFoundError(f"no multipart upload {upload_id!r}") from error
        if manifest["key"] != key:
            raise ObjectNotFoundError(f"no multipart upload {upload_id!r} for {key!r}")
        return _Upload(folder, manifest["content_type"])

    def _files_under(self, folder: Path) -> Iterator[tuple[Path, int]]:
        """Regular files below `folder`, not following symlinks, skipping our own area."""
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            path = Path(entry.path)
            if path == self._internal:
                continue
            if entry.is_dir(follow_symlinks=False):
                yield from self._files_under(path)
            elif entry.is_file(follow_symlinks=False):
                yield path, entry.stat(follow_symlinks=False).st_size


def _by_key(info: ObjectInfo) -> str:
    return info.key


def _checked_key(key: str) -> str:
    validate_key(key)
    if key.split("/", 1)[0] == INTERNAL_DIR:
        raise InvalidKeyError(f"keys may not start with {INTERNAL_DIR}/")
    return key


def _expiry(expires_in: int) -> int:
    return int(time.time()) + expires_in


def _unquoted(etag: str) -> str:
    return etag.strip('"')


def _check_parts(
    requested: list[UploadedPart], received: dict[int, UploadedPart]
) -> list[UploadedPart]:
    """The parts to join, refused as S3 refuses them: none, out of order, unknown or with
    another ETag, or smaller than S3's minimum anywhere but last."""
    if not requested:
        raise InvalidUploadError("a multipart upload needs at least one part")
    numbers = [part.part_number for part in requested]
    if numbers != sorted(set(numbers)):
        raise InvalidUploadError("parts must be listed once each, in ascending order")
    chosen = []
    for part in requested:
        got = received.get(part.part_number)
        if got is None or _unquoted(got.etag) != _unquoted(part.etag):
            raise InvalidUploadError(
                f"part {part.part_number} was not received with ETag {part.etag}"
            )
        chosen.append(got)
    if any(part.size < MIN_PART_BYTES for part in chosen[:-1]):
        raise InvalidUploadError(
            f"every part but the last must hold at least {MIN_PART_BYTES} bytes"
        )
    return chosen


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    temp.write_bytes(data)
    os.replace(temp, target)


def _remove_file(path: Path) -> None:
    """Unlink `path` unless it is a folder: a key that names a folder names no object."""
    if not path.is_dir():
        path.unlink(missing_ok=True)


def _prune_empty_folders(folder: Path) -> None:
    """Remove the folders left empty under (and including) `folder`; best effort, since a
    concurrent write may be filling one again."""
    for dirpath, _, _ in os.walk(folder, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)
