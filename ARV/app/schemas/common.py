"""Schemas every domain shares: the error envelope, list pages, base request/response."""

from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    UrlConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.utils.text import first_unstorable


class RequestSchema(BaseModel):
    """Base for request bodies: unknown fields are refused, so a client cannot set
    `company_id`, a role or a status by adding a field; text the database cannot store
    (NUL, lone surrogates) is refused anywhere in the body, nested models included."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    def fields_sent(self) -> dict[str, Any]:
        """The fields the client sent, as parsed (nested models stay models): a partial
        update changes exactly these."""
        return {field: getattr(self, field) for field in self.model_fields_set}

    @model_validator(mode="before")
    @classmethod
    def _refuse_unstorable_text(cls, data: Any) -> Any:
        found = first_unstorable(data)
        if found is not None:
            location, reason = found
            raise PydanticCustomError(
                "unstorable_text",
                "{location} {reason}",
                {"location": location or "the value", "reason": reason},
            )
        return data


# Passwords are taken exactly as typed: the request-wide whitespace stripping must not apply.
PasswordInput = Annotated[
    str, StringConstraints(strip_whitespace=False, min_length=1, max_length=200)
]


URL_MAX_LENGTH = 2048


def _fits_once_normalised(url: HttpUrl) -> HttpUrl:
    # Normalising can lengthen a URL many times over (punycode hosts, percent-encoded
    # paths): what is stored, and answered, is the normalised form, so that is what must fit.
    if len(str(url)) > URL_MAX_LENGTH:
        raise ValueError(f"the URL is longer than {URL_MAX_LENGTH} characters once encoded")
    return url


# An http(s) URL that is accepted only if its stored, normalised form is one the API can
# answer with again.
WebUrl = Annotated[
    HttpUrl, UrlConstraints(max_length=URL_MAX_LENGTH), AfterValidator(_fits_once_normalised)
]


class ResponseSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable error code, e.g. `not_found`.")
    message: str = Field(description="Human-readable explanation.")
    details: Any = Field(default=None, description="Structured context, e.g. invalid fields.")


class ErrorResponse(BaseModel):
    error: ErrorBody
    request_id: str | None = Field(description="Echo of the X-Request-ID header.")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="Number of items matching the filters, across all pages.")
    limit: int
    offset: int


OpenApiResponses = dict[int | str, dict[str, Any]]
