"""A video's chroma key, as stored in `videos.chroma_key` and sent by clients: the colour a
green (or blue) screen shows, keyed out of the video into its stacked-alpha rendition.

Imports nothing of the app beyond the base request schema, so the model can import it.
"""

from pydantic import ConfigDict, Field, field_validator

from app.schemas.common import RequestSchema
from app.schemas.company_settings import HEX_COLOR_PATTERN


class ChromaKey(RequestSchema):
    model_config = ConfigDict(frozen=True)

    color: str = Field(
        default="#00FF00",
        pattern=HEX_COLOR_PATTERN,
        description="The screen's colour as `#RRGGBB`; green by default.",
    )
    similarity: float = Field(
        default=0.1,
        ge=0.01,
        le=1.0,
        description="How far from `color` a pixel may be and still be keyed out: 0.01 only "
        "that very colour, 1.0 every colour.",
    )
    blend: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="How softly the edges fade: 0.0 a hard cut, higher values a wider band "
        "of partly transparent pixels.",
    )

    @field_validator("color")
    @classmethod
    def _upper_case(cls, color: str) -> str:
        return color.upper()
