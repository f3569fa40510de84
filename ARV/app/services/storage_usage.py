"""The shapes in which a domain tells the storage service what it stores and what it uses,
so that files, quota and deletion know no domain (see `storage_domains`)."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from app.services.tenant import ScopedService


@dataclass(frozen=True, slots=True)
class FileUse:
    """Something made from a stored file, which keeps the file from being deleted."""

    kind: str
    id: uuid.UUID
    name: str


# Bytes a domain stores for the scope's company beyond its uploaded files.
UsageReporter = Callable[[ScopedService], int]
# What in a domain uses a file of the scope's company.
FileUsers = Callable[[ScopedService, uuid.UUID], list[FileUse]]
