"""QR codes of a published content's viewer link, and a printable sheet with its marker:
public, no sign-in, rate-limited per address, cached with strong ETags.
See ARV/docs/viewer.md#qr-codes."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.api.delivery import Validators
from app.api.deps import DbSession, SettingsDep, StorageDep
from app.api.openapi import raises
from app.api.rate_limits import VIEWER_RULE, limit_per_ip
from app.core.exceptions import NotFoundError
from app.services.viewer_qr_service import Picture, ViewerQrService

router = APIRouter(
    prefix="/viewer",
    tags=["viewer"],
    dependencies=[Depends(limit_per_ip("viewer-codes", VIEWER_RULE))],
)

# A code's link never changes; a sheet follows the version served, so it is kept less long.
QR_CACHE_SECONDS = 3600
SHEET_CACHE_SECONDS = 300
PNG_SIZES = (64, 2048)
SVG_SCALES = (1, 64)
MARGINS = (0, 16)

PublicId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The content's public id, as its viewer link `/v/{public_id}` names it.",
    ),
]
Margin = Annotated[
    int,
    Query(
        ge=MARGINS[0],
        le=MARGINS[1],
        description="The light quiet zone around the code, in modules (4 is what scanners "
        "expect; less only on a light background).",
    ),
]


def _responses(media_type: str, what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {media_type: {}}, "description": what},
        304: {"description": "The copy named by If-None-Match is current."},
    }


def get_viewer_qr_service(
    db: DbSession, settings: SettingsDep, storage: StorageDep
) -> ViewerQrService:
    return ViewerQrService(db, settings, storage)


ViewerQr = Annotated[ViewerQrService, Depends(get_viewer_qr_service)]


@router.get(
    "/{public_id}/qr.png",
    summary="The QR code of a published content's viewer link, as PNG",
    response_class=Response,
    responses=_responses("image/png", "A black-on-white PNG, `size` pixels square."),
)
@raises(NotFoundError)
def qr_png(
    public_id: PublicId,
    request: Request,
    codes: ViewerQr,
    size: Annotated[
        int,
        Query(
            ge=PNG_SIZES[0],
            le=PNG_SIZES[1],
            description="Width and height in pixels (never less than one pixel per module).",
        ),
    ] = 512,
    margin: Margin = 4,
) -> Response:
    """The code carries `{PUBLIC_BASE_URL}/v/{public_id}` (error correction M). Only a
    published content has one: any other public id answers 404. Revalidate with
    `If-None-Match` (304)."""
    return _serve(request, codes.qr_png(public_id, size=size, margin=margin), QR_CACHE_SECONDS)


@router.get(
    "/{public_id}/qr.svg",
    summary="The QR code of a published content's viewer link, as SVG",
    response_class=Response,
    responses=_responses(
        "image/svg+xml", "An SVG whose `viewBox` counts modules, on a white square."
    ),
)
@raises(NotFoundError)
def qr_svg(
    public_id: PublicId,
    request: Request,
    codes: ViewerQr,
    size: Annotated[
        int,
        Query(
            ge=SVG_SCALES[0],
            le=SVG_SCALES[1],
            description="Pixels per module: the SVG's width and height are the module "
            "count (quiet zone included) times this. It scales without loss.",
        ),
    ] = 10,
    margin: Margin = 4,
) -> Response:
    """The code carries `{PUBLIC_BASE_URL}/v/{public_id}` (error correction M). Only a
    published content has one: any other public id answers 404. Revalidate with
    `If-None-Match` (304)."""
    return _serve(request, codes.qr_svg(public_id, scale=size, margin=margin), QR_CACHE_SECONDS)


@router.get(
    "/{public_id}/print.png",
    summary="A printable sheet: the marker picture with its QR code, title and caption",
    response_class=Response,
    responses=_responses(
        "image/png", "A PNG at 300 dpi, at most about 2,450 x 2,850 pixels (fits A4 and Letter)."
    ),
)
@raises(NotFoundError)
def print_sheet(public_id: PublicId, request: Request, codes: ViewerQr) -> Response:
    """The marker picture of the version viewers are served, with the QR code of the
    viewer link to its right (landscape or square picture) or below it (portrait), the
    content's published title and a caption telling people to point their phone's camera
    at the picture. Only a published content has one: any other public id answers 404."""
    return _serve(request, codes.print_sheet(public_id), SHEET_CACHE_SECONDS)


def _serve(request: Request, picture: Picture, max_age: int) -> Response:
    validators = Validators(picture.etag)
    headers = {**validators.headers(), "Cache-Control": f"public, max-age={max_age}"}
    if validators.not_modified(request):
        return Response(status_code=304, headers=headers)
    return Response(picture.draw(), headers=headers, media_type=picture.media_type)
