"""Declarative base, column types and mixins shared by every model."""

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import JSON, ColumnElement, DateTime, Enum, ForeignKey, MetaData, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

from app.utils.clock import utcnow

ModelT = TypeVar("ModelT", bound=BaseModel)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend.

    PostgreSQL stores `timestamptz`; SQLite has no time zones and hands back naive values,
    which are UTC by construction here, so they are tagged on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC values")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def string_enum(enum: type[StrEnum], name: str, length: int = 16, *, checked: bool = False) -> Enum:
    """An enum stored as its values in a VARCHAR: adding a member needs no type migration.
    `checked` refuses other values on write, in Python and by a CHECK constraint named
    `ck_<table>_<name>` (then adding a member does take a migration)."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        create_constraint=checked,
        validate_strings=checked,
    )


class SchemaJSON(TypeDecorator[ModelT]):
    """A JSON column read and written as a pydantic model: validated both ways, so a
    reader never sees a raw dict and a writer cannot store what the model refuses."""

    impl = JSON
    cache_ok = True

    def __init__(self, model: type[ModelT]) -> None:
        super().__init__()
        self.model = model

    def process_bind_param(self, value: ModelT | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return self.model.model_validate(value).model_dump(mode="json")

    def process_result_value(self, value: Any, dialect: Dialect) -> ModelT | None:
        return None if value is None else self.model.model_validate(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime(), uuid.UUID: Uuid()}


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, sort_order=-100)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, sort_order=100)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, sort_order=100)


class SoftDeletable:
    deleted_at: Mapped[datetime | None] = mapped_column(default=None, index=True, sort_order=101)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def soft_delete(self) -> None:
        self.deleted_at = utcnow()

    def restore(self) -> None:
        self.deleted_at = None


class TenantOwned:
    """Rows that belong to one company; services filter every query by `company_id`."""

    @declared_attr
    def company_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(
            ForeignKey("companies.id", ondelete="CASCADE"), index=True, sort_order=-90
        )


class PubliclyReadable:
    """Tenant-owned rows that viewers without identity may read, some of them: the public
    actor reads exactly the rows `public_rows` selects, and nothing of any other model."""

    @classmethod
    def public_rows(cls) -> ColumnElement[bool]:
        raise NotImplementedError
