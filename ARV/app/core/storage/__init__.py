"""Object storage: the provider interface, and the provider the settings choose."""

from functools import lru_cache

from app.core.config import Settings, get_settings
from app.core.security import storage_link_key
from app.core.storage.base import (
    InvalidKeyError,
    InvalidUploadError,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectWriter,
    StorageError,
    StorageProvider,
    UploadedPart,
    company_prefix,
    validate_key,
)
from app.core.storage.local import LocalStorage
from app.core.storage.s3 import S3Storage

__all__ = [
    "InvalidKeyError",
    "InvalidUploadError",
    "LocalStorage",
    "ObjectInfo",
    "ObjectNotFoundError",
    "ObjectWriter",
    "S3Storage",
    "StorageError",
    "StorageProvider",
    "UploadedPart",
    "build_storage",
    "company_prefix",
    "get_storage",
    "validate_key",
]


def build_storage(settings: Settings) -> StorageProvider:
    if settings.STORAGE_PROVIDER == "local":
        return LocalStorage(
            settings.local_storage_root, settings.API_PUBLIC_URL, storage_link_key(settings)
        )
    if not settings.S3_BUCKET:
        raise StorageError("STORAGE_PROVIDER=s3 needs S3_BUCKET")
    secret = settings.S3_SECRET_ACCESS_KEY
    return S3Storage(
        settings.S3_BUCKET,
        endpoint_url=settings.S3_ENDPOINT_URL,
        public_endpoint_url=settings.S3_PUBLIC_ENDPOINT_URL,
        region=settings.S3_REGION,
        access_key_id=settings.S3_ACCESS_KEY_ID,
        secret_access_key=secret.get_secret_value() if secret else None,
    )


@lru_cache
def get_storage() -> StorageProvider:
    """The provider for code outside requests (Celery workers); requests use the app's."""
    return build_storage(get_settings())
