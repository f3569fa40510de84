"""The offline pack of a published content, for apps that download once and then work
without a network: public, no sign-in, rate-limited per address."""

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from app.api.deps import DbSession, SettingsDep, StorageDep
from app.api.openapi import raises
from app.api.rate_limits import VIEWER_RULE, limit_per_ip
from app.api.routes.viewer import ManifestPublicId
from app.core.exceptions import NotFoundError
from app.services import viewer_bundle, viewer_service

router = APIRouter(prefix="/viewer", tags=["viewer"])


class ZipResponse(StreamingResponse):
    media_type = "application/zip"


@router.get(
    "/{public_id}/bundle",
    summary="The offline pack of a published AR content (zip)",
    description="A zip, streamed, of `marker.jpg` (the normalised marker image), "
    "`target.mind` (the compiled MindAR target), `video.mp4` (the smallest MP4 rendition "
    "of the video the schedule plays now; absent, and `video` null, when none plays) and, "
    "last, `manifest.json`: the viewer manifest with those paths, each with its `size` "
    "and `sha256`, in place of links. Unknown, unpublished, archived and deleted contents "
    "are all not found alike. See ARV/docs/viewer.md.",
    response_class=ZipResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The pack."}},
    dependencies=[Depends(limit_per_ip("viewer-bundle", VIEWER_RULE))],
)
@raises(NotFoundError)
def download_bundle(
    public_id: ManifestPublicId, db: DbSession, storage: StorageDep, settings: SettingsDep
) -> ZipResponse:
    source = viewer_service.bundle_source(db, storage, settings, public_id)
    return ZipResponse(
        viewer_bundle.stream_bundle(storage, source),
        headers={"Content-Disposition": f'attachment; filename="{public_id}.zip"'},
    )
