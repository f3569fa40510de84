import uuid
from datetime import datetime

from pydantic import Field

from app.models.storage import FileStatus
from app.schemas.common import RequestSchema, ResponseSchema

FILENAME_MAX_LENGTH = 255
ETAG_MAX_LENGTH = 200
MAX_PART_NUMBER = 10_000
MAX_URLS_PER_REQUEST = 100


class StoredFileResponse(ResponseSchema):
    id: uuid.UUID
    status: FileStatus = Field(description="`uploading` until every byte arrived.")
    filename: str = Field(description="The original name, made safe.")
    content_type: str | None = Field(description="Sniffed from the bytes, not taken on trust.")
    size_bytes: int = Field(description="Size; while uploading, the bytes reserved.")
    sha256: str | None = Field(description="Hex digest; computed shortly after a direct upload.")
    uploaded_by_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class DownloadLink(ResponseSchema):
    url: str = Field(description="GET it (Range requests welcome) until it expires.")
    expires_at: datetime


class StorageUsageResponse(ResponseSchema):
    used_bytes: int = Field(description="Stored files.")
    reserved_bytes: int = Field(description="Held for uploads in progress.")
    derived_bytes: int = Field(
        description="What the video pipeline made: renditions (MP4 and HLS), posters, "
        "thumbnails and storyboards."
    )
    total_bytes: int
    limit_bytes: int = Field(description="What the company's plan allows.")
    file_count: int


class DirectUploadCreate(RequestSchema):
    filename: str = Field(min_length=1, max_length=FILENAME_MAX_LENGTH)
    size_bytes: int = Field(gt=0, description="The exact size of the whole file.")
    content_type: str | None = Field(
        default=None,
        max_length=100,
        description="A hint for storage; the accepted type is sniffed from the bytes.",
    )


class DirectUploadResponse(ResponseSchema):
    file: StoredFileResponse
    part_size_bytes: int = Field(description="Every part but the last has exactly this size.")
    part_count: int
    expires_at: datetime = Field(description="Unfinished after this, the upload is discarded.")


class PartUrlsRequest(RequestSchema):
    part_numbers: list[int] = Field(
        min_length=1,
        max_length=MAX_URLS_PER_REQUEST,
        description="1-based part numbers to get upload URLs for.",
    )


class PartUrlResponse(ResponseSchema):
    part_number: int
    url: str = Field(description="PUT the part's bytes here; keep the ETag header returned.")
    expires_at: datetime


class UploadedPartBody(RequestSchema):
    part_number: int = Field(ge=1, le=MAX_PART_NUMBER)
    etag: str = Field(min_length=1, max_length=ETAG_MAX_LENGTH)


class UploadedPartResponse(ResponseSchema):
    part_number: int
    etag: str
    size: int


class DirectUploadComplete(RequestSchema):
    parts: list[UploadedPartBody] | None = Field(
        default=None,
        max_length=MAX_PART_NUMBER,
        description="The parts and their ETags; omit to use every part storage received.",
    )
