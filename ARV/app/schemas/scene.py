"""Scene settings: how a viewer shows the video over the marker. Stored with each AR
content (and each published version), copied from a project's defaults; documented for
viewer authors in ARV/docs/projects.md."""

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from app.schemas.common import RequestSchema
from app.schemas.company_settings import HEX_COLOR_PATTERN

HexColour = Annotated[
    str, Field(pattern=HEX_COLOR_PATTERN, description="`#RRGGBB`.", examples=["#00FF00"])
]


class Fit(StrEnum):
    CONTAIN = "contain"
    COVER = "cover"
    STRETCH = "stretch"


class OnMarkerLost(StrEnum):
    PAUSE = "pause"
    KEEP_PLAYING = "keep_playing"
    HIDE = "hide"


class Placement(RequestSchema):
    """Where the video sits, in marker widths from the marker's centre (x right, y up,
    z towards the camera), scaled and turned about the marker's normal. The default fits
    the video to the marker."""

    offset_x: float = Field(default=0.0, ge=-10, le=10)
    offset_y: float = Field(default=0.0, ge=-10, le=10)
    offset_z: float = Field(default=0.0, ge=-10, le=10)
    scale: float = Field(default=1.0, ge=0.01, le=10)
    rotation_degrees: float = Field(default=0.0, ge=-180, le=180)


class Smoothing(RequestSchema):
    """MindAR's One Euro filter and its tolerances: a lower `filter_min_cf` and
    `filter_beta` steady a jittery video at the cost of lag when the phone moves."""

    filter_min_cf: float = Field(default=0.001, gt=0, le=1, description="MindAR `filterMinCF`.")
    filter_beta: float = Field(default=1000, ge=0, le=100_000, description="MindAR `filterBeta`.")
    warmup_tolerance: int = Field(
        default=5, ge=1, le=60, description="Frames the marker must be seen before it counts."
    )
    miss_tolerance: int = Field(
        default=5, ge=1, le=60, description="Frames the marker may be missed before it is lost."
    )


class NoTransparency(RequestSchema):
    mode: Literal["none"] = "none"


class ChromaKey(RequestSchema):
    """Keyed in the viewer's shader: pixels within `similarity` of `color` turn
    transparent, with `smoothness` feathering the edge. (To key on the server instead, set
    the video's chroma key and use `alpha`.)"""

    mode: Literal["chroma_key"]
    color: HexColour = "#00FF00"
    similarity: float = Field(default=0.4, ge=0.01, le=1)
    smoothness: float = Field(default=0.08, ge=0, le=1)


class StackedAlpha(RequestSchema):
    """The video's stacked-alpha rendition: colour in the top half, alpha in the bottom."""

    mode: Literal["alpha"]


Transparency = Annotated[NoTransparency | ChromaKey | StackedAlpha, Field(discriminator="mode")]


class SceneSettings(RequestSchema):
    placement: Placement = Field(default_factory=Placement)
    fit: Fit = Fit.CONTAIN
    loop: bool = True
    autoplay: bool = Field(
        default=True,
        description="Start when the marker is found. Browsers only autoplay muted, so the "
        "video starts muted with a tap-to-unmute button.",
    )
    on_marker_lost: OnMarkerLost = OnMarkerLost.PAUSE
    smoothing: Smoothing = Field(default_factory=Smoothing)
    transparency: Transparency = Field(default_factory=NoTransparency)
