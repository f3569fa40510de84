"""A company's settings, as stored in `companies.settings` and sent by clients.

`Company.settings` is this model, not a dict: it is validated on the way into the column
and out of it, so every reader gets the declared defaults and no code keeps its own copy.
The models are frozen: a change is a new value assigned to the column, which SQLAlchemy
sees (an attribute changed in place would not be saved). Imports nothing of the app, so
the model can import it.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator

from app.schemas.common import WebUrl
from app.utils.inn import is_valid_inn

HEX_COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"
HexColor = Field(default=None, pattern=HEX_COLOR_PATTERN)


class Branding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    logo_url: WebUrl | None = None
    primary_color: str | None = HexColor
    accent_color: str | None = HexColor


class VideoDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_resolution: Literal[360, 480, 720, 1080] = Field(
        default=1080, description="Tallest rendition the pipeline makes, in pixels."
    )
    hls_enabled: bool = Field(
        default=True, description="Make HLS renditions (on plans that include HLS)."
    )
    loop: bool = Field(
        default=True,
        description="Players start the video again when it ends. Delivered to players in "
        "`playback` of a video's media links.",
    )
    muted_autoplay: bool = Field(
        default=True,
        description="Players start the video at once, muted (browsers allow autoplay only "
        "without sound). Delivered to players in `playback` of a video's media links.",
    )


class LegalDetails(BaseModel):
    """The company as the buyer named on its invoices."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    legal_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="Full legal name, e.g. `ИП Иванов Иван Иванович`.",
    )
    inn: str | None = Field(
        default=None,
        pattern=r"^(?:[0-9]{10}|[0-9]{12})$",
        description="ИНН (INN): 10 digits for an organisation, 12 for an individual "
        "entrepreneur; its check digits must be right.",
    )
    kpp: str | None = Field(
        default=None,
        # `[0-9]`, not `\d`: the regex engine's `\d` takes other scripts' digits too.
        pattern=r"^[0-9]{4}[0-9A-Z]{2}[0-9]{3}$",
        description="КПП (KPP), 9 characters: organisations only, so only with a 10-digit `inn`.",
    )
    address: str | None = Field(
        default=None, min_length=1, max_length=500, description="Legal address."
    )
    email: EmailStr | None = Field(
        default=None, max_length=320, description="Where invoices are sent."
    )

    @field_validator("inn")
    @classmethod
    def _inn_check_digits(cls, inn: str | None) -> str | None:
        if inn is not None and not is_valid_inn(inn):
            raise ValueError("the INN's check digits are wrong")
        return inn

    @field_validator("kpp")
    @classmethod
    def _kpp_only_with_an_organisation_inn(
        cls, kpp: str | None, info: ValidationInfo
    ) -> str | None:
        # An INN that failed its own validation is missing here and reported already.
        if kpp is not None and "inn" in info.data and len(info.data["inn"] or "") != 10:
            raise ValueError("a KPP is given only with an organisation's 10-digit INN")
        return kpp


class CompanySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    branding: Branding = Field(default_factory=Branding)
    video_defaults: VideoDefaults = Field(default_factory=VideoDefaults)
    legal: LegalDetails = Field(default_factory=LegalDetails)
