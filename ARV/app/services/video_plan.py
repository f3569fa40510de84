"""Which renditions a video gets, in which order: pure decisions on the probe's facts."""

from dataclasses import dataclass

from app.models.video import RenditionKind
from app.schemas.chroma_key import ChromaKey
from app.utils.ffmpeg import (
    MediaInfo,
    Rung,
    is_standard,
    keyframes_fit_segments,
    ladder_for,
    stacked_alpha_rung,
)

PLAYABLE_FIRST_SHORT_SIDE = 720


@dataclass(frozen=True, slots=True)
class PlannedRendition:
    name: str
    short_side: int
    rung: Rung | None  # None: the source's streams are copied, not encoded
    # The stacked-alpha rendition keys this colour out; a ladder rung has none.
    chroma_key: ChromaKey | None = None

    @property
    def is_copy(self) -> bool:
        return self.rung is None

    @property
    def kind(self) -> RenditionKind:
        return RenditionKind.LADDER if self.chroma_key is None else RenditionKind.STACKED_ALPHA

    @property
    def in_hls(self) -> bool:
        """Ladder rungs are HLS variants; the stacked-alpha rendition is a WebGL texture."""
        return self.kind == RenditionKind.LADDER


def plan_renditions(
    info: MediaInfo,
    cap_short_side: int,
    *,
    hls: bool = True,
    chroma_key: ChromaKey | None = None,
) -> list[PlannedRendition]:
    """The ladder, playable-first rendition first, then the stacked-alpha rendition when the
    video has a chroma key."""
    ladder = _plan_ladder(info, cap_short_side, hls=hls)
    if chroma_key is None:
        return ladder
    rung = stacked_alpha_rung(info, cap_short_side)
    return [*ladder, PlannedRendition(rung.name, rung.short_side, rung, chroma_key)]


def _plan_ladder(info: MediaInfo, cap_short_side: int, *, hls: bool) -> list[PlannedRendition]:
    """The ladder, playable-first rendition first. A standard source is copied as its own
    top rung if its keyframes cut into HLS segments of the advertised length (or no HLS is
    made); otherwise the first is the 720p rung (or the largest below the source)."""
    rungs = [rung for rung in ladder_for(info) if rung.short_side <= cap_short_side]
    if not rungs:
        rungs = ladder_for(info)[:1]
    copyable = is_standard(info) and (keyframes_fit_segments(info) or not hls)
    if copyable and info.short_side <= cap_short_side:
        lower = [rung for rung in rungs if rung.short_side < info.short_side]
        copy = PlannedRendition(f"{info.short_side}p", info.short_side, None)
        return [copy, *(PlannedRendition(r.name, r.short_side, r) for r in lower)]
    first = max(
        (rung for rung in rungs if rung.short_side <= PLAYABLE_FIRST_SHORT_SIDE),
        key=lambda rung: rung.short_side,
        default=rungs[0],
    )
    rest = [rung for rung in rungs if rung is not first]
    return [PlannedRendition(r.name, r.short_side, r) for r in (first, *rest)]
