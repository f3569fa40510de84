import uuid
from datetime import datetime

from pydantic import EmailStr, Field

from app.schemas.common import RequestSchema, ResponseSchema

Password = Field(min_length=1, max_length=200, description="8 to 72 bytes; not a common password.")


class UserResponse(ResponseSchema):
    id: uuid.UUID
    email: str
    full_name: str
    is_verified: bool
    is_superuser: bool
    created_at: datetime


class UserUpdate(RequestSchema):
    full_name: str = Field(min_length=1, max_length=200)


class PasswordChange(RequestSchema):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Password


class RegisterRequest(RequestSchema):
    email: EmailStr = Field(max_length=320)
    password: str = Password
    full_name: str = Field(default="", max_length=200)
