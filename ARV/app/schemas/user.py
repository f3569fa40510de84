import uuid
from datetime import datetime

from pydantic import EmailStr, Field

from app.models.user import Language
from app.schemas.common import PasswordInput, RequestSchema, ResponseSchema

NEW_PASSWORD_RULES = "At least 8 characters and at most 72 bytes; not a common password."  # noqa: S105


class UserResponse(ResponseSchema):
    id: uuid.UUID
    email: str
    full_name: str
    is_verified: bool
    is_superuser: bool
    language: Language = Field(description="The language of the emails you receive.")
    created_at: datetime


class UserUpdate(RequestSchema):
    """Send only what changes."""

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    language: Language | None = Field(
        default=None, description="The language of the emails you receive."
    )


class PasswordChange(RequestSchema):
    current_password: PasswordInput
    new_password: PasswordInput = Field(description=NEW_PASSWORD_RULES)


class RegisterRequest(RequestSchema):
    email: EmailStr = Field(max_length=320)
    password: PasswordInput = Field(description=NEW_PASSWORD_RULES)
    full_name: str = Field(default="", max_length=200)
