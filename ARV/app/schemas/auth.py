import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from app.schemas.common import PasswordInput, RequestSchema, ResponseSchema
from app.schemas.user import NEW_PASSWORD_RULES

OpaqueToken = Field(min_length=16, max_length=200)


class LoginRequest(RequestSchema):
    email: EmailStr = Field(max_length=320)
    password: PasswordInput


class PasswordLoginForm(RequestSchema):
    """The OAuth2 password grant's form (RFC 6749 §4.3.2), as the docs' Authorize button
    sends it; `username` is the email address."""

    grant_type: Literal["password"] | None = None
    username: str = Field(min_length=1, max_length=320)
    password: PasswordInput
    scope: str = Field(default="", max_length=1000)
    client_id: str | None = Field(default=None, max_length=200)
    client_secret: str | None = Field(default=None, max_length=200)


class RefreshRequest(RequestSchema):
    refresh_token: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="Omit when the refresh token travels in the HttpOnly cookie.",
    )


class TokenRequest(RequestSchema):
    token: str = OpaqueToken


class PasswordResetRequest(RequestSchema):
    email: EmailStr = Field(max_length=320)


class PasswordReset(RequestSchema):
    token: str = OpaqueToken
    new_password: PasswordInput = Field(description=NEW_PASSWORD_RULES)


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str | None = Field(
        description="Absent when REFRESH_COOKIE_ENABLED: it is then only in the HttpOnly cookie."
    )
    refresh_expires_at: datetime
    session_id: uuid.UUID


class AcceptedResponse(BaseModel):
    detail: str


class SessionResponse(ResponseSchema):
    id: uuid.UUID
    user_agent: str
    ip_address: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool = False
