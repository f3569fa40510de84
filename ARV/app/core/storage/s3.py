"""Storage in an S3 bucket: AWS, MinIO or any S3-compatible store (path-style addressing).

The API talks to `endpoint_url`; links handed out are presigned for `public_endpoint_url`,
the host browsers reach (http://localhost:9000 while the API talks to http://minio:9000).
Presigning is local computation, so that client never connects anywhere.

Clients are created on first use: readiness builds a provider per probe and needs only
the probe client.
"""

import builtins
import contextlib
import threading
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.core.storage.base import (
    InvalidUploadError,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectWriter,
    StorageError,
    StorageProvider,
    UploadedPart,
    attachment_disposition,
    immutable_cache_control,
    validate_folder_prefix,
    validate_key,
    validate_prefix,
    validate_range,
)

# Memory held by one streamed write; S3 wants every part but the last to be >= 5 MiB.
WRITER_PART_BYTES = 8 * 1024**2
PAGE_SIZE = 1000  # the most keys a listing page or one DeleteObjects call holds

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchUpload", "NotFound", "404"})
_TRANSFER = TransferConfig(
    multipart_threshold=WRITER_PART_BYTES, multipart_chunksize=WRITER_PART_BYTES
)


def _client_config(*, connect_timeout: float, read_timeout: float, attempts: int) -> Config:
    return Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": attempts},
        # Browsers send presigned parts without the CRC checksums boto3 now adds by default,
        # and older S3-compatible stores refuse them: checksum only where S3 demands one.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


# What S3 answers when the parts a client named cannot be joined.
_INVALID_UPLOAD_CODES = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})
_API_CONFIG = _client_config(connect_timeout=5, read_timeout=60, attempts=3)
# Readiness wants a quick answer, not a patient one.
_PROBE_CONFIG = _client_config(connect_timeout=2, read_timeout=2, attempts=1)


@contextlib.contextmanager
def _s3_errors(subject: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code", "")
        if code in _NOT_FOUND_CODES:
            raise ObjectNotFoundError(f"{subject}: {code}") from error
        if code in _INVALID_UPLOAD_CODES:
            raise InvalidUploadError(f"{subject}: {code} {details.get('Message', '')}") from error
        raise StorageError(f"{subject}: {code} {details.get('Message', '')}".strip()) from error
    except (BotoCoreError, S3UploadFailedError) as error:
        raise StorageError(f"{subject}: {error}") from error


def _content_type_args(content_type: str | None) -> dict[str, str]:
    return {"ContentType": content_type} if content_type else {}


class _S3Writer(ObjectWriter):
    """Buffers up to one part. The multipart upload starts only once a full part is ready,
    so a small object is a single PUT; until `commit`, S3 shows nothing under the key."""

    def __init__(self, client: Any, bucket: str, key: str, content_type: str | None) -> None:
        self._client = client
        self._object = {"Bucket": bucket, "Key": key}
        self._content_type = content_type
        self._buffer = bytearray()
        self._size = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        self._size += len(chunk)
        while len(self._buffer) >= WRITER_PART_BYTES:
            self._send_part(bytes(self._buffer[:WRITER_PART_BYTES]))
            del self._buffer[:WRITER_PART_BYTES]

    def commit(self) -> int:
        try:
            with _s3_errors(self._object["Key"]):
                if self._upload_id is None:
                    body = bytes(self._buffer)
                    self._client.put_object(
                        **self._object, Body=body, **_content_type_args(self._content_type)
                    )
                else:
                    if self._buffer:
                        self._send_part(bytes(self._buffer))
                    self._client.complete_multipart_upload(
                        **self._object,
                        UploadId=self._upload_id,
                        MultipartUpload={"Parts": self._parts},
                    )
                    self._upload_id = None
        except BaseException:
            with contextlib.suppress(StorageError):
                self.abort()
            raise
        self._buffer.clear()
        return self._size

    def abort(self) -> None:
        self._buffer.clear()
        if self._upload_id is None:
            return
        with contextlib.suppress(ObjectNotFoundError), _s3_errors(self._object["Key"]):
            self._client.abort_multipart_upload(**self._object, UploadId=self._upload_id)
        self._upload_id = None

    def _send_part(self, data: bytes) -> None:
        with _s3_errors(self._object["Key"]):
            if self._upload_id is None:
                self._upload_id = self._client.create_multipart_upload(
                    **self._object, **_content_type_args(self._content_type)
                )["UploadId"]
            number = len(self._parts) + 1
            etag = self._client.upload_part(
                **self._object, UploadId=self._upload_id, PartNumber=number, Body=data
            )["ETag"]
        self._parts.append({"PartNumber": number, "ETag": etag})


class S3Storage(StorageProvider):
    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        public_endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self._endpoint_url = endpoint_url
        self._public_endpoint_url = public_endpoint_url
        # None falls back to boto3's usual chain (environment, instance role).
        self._session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        self._client_creation = threading.Lock()  # a boto3 session is not thread-safe

    # Objects
    def open_writer(self, key: str, content_type: str | None = None) -> ObjectWriter:
        return _S3Writer(self._client, self.bucket, validate_key(key), content_type)

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        with _s3_errors(key):
            self._client.upload_file(
                str(path),
                self.bucket,
                validate_key(key),
                ExtraArgs=_content_type_args(content_type),
                Config=_TRANSFER,
            )

    def download_file(self, key: str, path: Path) -> None:
        with _s3_errors(key):
            self._client.download_file(self.bucket, validate_key(key), str(path), Config=_TRANSFER)

    def open_read(self, key: str, start: int = 0, end: int | None = None) -> BinaryIO:
        validate_range(start, end)
        whole = (start, end) == (0, None)
        byte_range = {} if whole else {"Range": f"bytes={start}-{'' if end is None else end}"}
        with _s3_errors(key):
            response = self._client.get_object(
                Bucket=self.bucket, Key=validate_key(key), **byte_range
            )
        return cast(BinaryIO, response["Body"])

    def stat(self, key: str) -> ObjectInfo:
        with _s3_errors(key):
            head = self._client.head_object(Bucket=self.bucket, Key=validate_key(key))
        return ObjectInfo(key, head["ContentLength"], head.get("ContentType"))

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        with _s3_errors(key):
            self._client.delete_object(Bucket=self.bucket, Key=validate_key(key))

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        for page in self._listing(validate_folder_prefix(prefix)):
            batch = [{"Key": item["Key"]} for item in page]
            with _s3_errors(prefix):
                response = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            if errors := response.get("Errors"):
                raise StorageError(f"{prefix}: {len(errors)} objects not deleted: {errors[0]}")
            deleted += len(batch)
        return deleted

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        pages = self._listing(validate_prefix(prefix))
        return (ObjectInfo(item["Key"], item["Size"]) for page in pages for item in page)

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
        params = {"Bucket": self.bucket, "Key": validate_key(key)}
        if immutable:
            params["ResponseCacheControl"] = immutable_cache_control(expires_in)
        if filename:
            params["ResponseContentDisposition"] = attachment_disposition(filename)
        if content_type:
            params["ResponseContentType"] = content_type
        return self._presign("get_object", params, expires_in)

    def upload_url(self, key: str, expires_in: int, content_type: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": validate_key(key)}
        return self._presign("put_object", params | _content_type_args(content_type), expires_in)

    # Multipart uploads
    def create_multipart_upload(self, key: str, content_type: str | None = None) -> str:
        with _s3_errors(key):
            response = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=validate_key(key), **_content_type_args(content_type)
            )
        return str(response["UploadId"])

    def part_upload_url(self, key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": validate_key(key),
            "UploadId": upload_id,
            "PartNumber": part_number,
        }
        return self._presign("upload_part", params, expires_in)

    def list_parts(self, key: str, upload_id: str) -> builtins.list[UploadedPart]:
        paginator = self._client.get_paginator("list_parts")
        pages = paginator.paginate(Bucket=self.bucket, Key=validate_key(key), UploadId=upload_id)
        with _s3_errors(key):
            return [
                UploadedPart(part["PartNumber"], part["ETag"], part["Size"])
                for page in pages
                for part in page.get("Parts", [])
            ]

    def complete_multipart_upload(
        self, key: str, upload_id: str, parts: builtins.list[UploadedPart]
    ) -> ObjectInfo:
        listed = [{"PartNumber": part.part_number, "ETag": part.etag} for part in parts]
        with _s3_errors(key):
            self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=validate_key(key),
                UploadId=upload_id,
                MultipartUpload={"Parts": listed},
            )
        return self.stat(key)

    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(ObjectNotFoundError), _s3_errors(key):
            self._client.abort_multipart_upload(
                Bucket=self.bucket, Key=validate_key(key), UploadId=upload_id
            )

    def check(self) -> None:
        try:
            with _s3_errors(f"bucket {self.bucket}"):
                self._probe.head_bucket(Bucket=self.bucket)
        except ObjectNotFoundError as error:
            raise StorageError(f"bucket {self.bucket} does not exist") from error

    # Internals
    @cached_property
    def _client(self) -> Any:
        return self._new_client(self._endpoint_url, _API_CONFIG)

    @cached_property
    def _presigner(self) -> Any:
        if self._public_endpoint_url is None:
            return self._client
        return self._new_client(self._public_endpoint_url, _API_CONFIG)

    @cached_property
    def _probe(self) -> Any:
        return self._new_client(self._endpoint_url, _PROBE_CONFIG)

    def _new_client(self, endpoint_url: str | None, config: Config) -> Any:
        with self._client_creation:
            return self._session.client("s3", endpoint_url=endpoint_url, config=config)

    def _presign(self, operation: str, params: dict[str, Any], expires_in: int) -> str:
        with _s3_errors(str(params["Key"])):
            url = self._presigner.generate_presigned_url(
                operation, Params=params, ExpiresIn=expires_in
            )
        return str(url)

    def _listing(self, prefix: str) -> Iterator[builtins.list[dict[str, Any]]]:
        """Non-empty pages of `{"Key", "Size", ...}` under `prefix`, fetched as consumed."""
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": PAGE_SIZE}
        )
        with _s3_errors(prefix):
            for page in pages:
                if contents := page.get("Contents"):
                    yield contents
