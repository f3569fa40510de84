"""Every domain that stores outputs or uses uploaded files, in one list each. A new domain
(markers, invoices) adds its reporter here; the storage service only sums and asks."""

import uuid

from app.services import marker_service, video_outputs, video_service
from app.services.storage_usage import FileUse, FileUsers, UsageReporter
from app.services.tenant import ScopedService

USAGE_REPORTERS: tuple[UsageReporter, ...] = (
    video_outputs.stored_bytes,
    marker_service.stored_bytes,
)
FILE_USERS: tuple[FileUsers, ...] = (video_service.file_uses, marker_service.file_uses)


def derived_bytes(scope: ScopedService) -> int:
    return sum(report(scope) for report in USAGE_REPORTERS)


def file_uses(scope: ScopedService, file_id: uuid.UUID) -> list[FileUse]:
    return [use for users in FILE_USERS for use in users(scope, file_id)]
