"""A company's settings, as stored in `companies.settings` and sent by clients.

`Company.settings` is this model, not a dict: it is validated on the way into the column
and out of it, so every reader gets the declared defaults and no code keeps its own copy.
The models are frozen: a change is a new value assigned to the column, which SQLAlchemy
sees (an attribute changed in place would not be saved). Imports nothing of the app, so
the model can import it.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import WebUrl

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


class CompanySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    branding: Branding = Field(default_factory=Branding)
    video_defaults: VideoDefaults = Field(default_factory=VideoDefaults)
