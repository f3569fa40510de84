"""The WebAR viewer a printed link or QR code opens: `GET /v/{public_id}`, an HTML page
that tracks the print in the browser, and the scripts it runs, served by the API itself
under content-hashed URLs (never from a CDN)."""

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Header, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session, sessionmaker

from app.api.deps import SessionFactoryDep, SettingsDep, StorageDep
from app.api.rate_limits import VIEWER_RULE, limit_per_ip
from app.core.config import Settings
from app.core.exceptions import NotFoundError
from app.core.storage import StorageProvider
from app.core.viewer_assets import URL_PREFIX, ViewerAssets, viewer_assets
from app.models.ar_content import PUBLIC_ID_LENGTH
from app.schemas.viewer import Manifest
from app.services import viewer_service

router = APIRouter(include_in_schema=False)

_templates = Environment(
    loader=PackageLoader("app", "templates/viewer"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
_IMMUTABLE = "public, max-age=31536000, immutable"


def _storage_origins(settings: Settings) -> str:
    """Where the manifest's links (marker, .mind, poster, video) may point."""
    urls = [settings.API_PUBLIC_URL, settings.S3_PUBLIC_ENDPOINT_URL or settings.S3_ENDPOINT_URL]
    origins = {f"{p.scheme}://{p.netloc}" for p in map(urlsplit, filter(None, urls))}
    if settings.STORAGE_PROVIDER == "s3" and not settings.S3_ENDPOINT_URL:
        origins.add("https://*.amazonaws.com")
    return " ".join(["'self'", *sorted(origins)])


def _page_policy(settings: Settings, assets: ViewerAssets) -> str:
    """Own scripts plus the inline import map; MindAR's worker comes from a blob: URL and
    the .mind file is handed to it as one; media from storage; nothing framed."""
    storage = _storage_origins(settings)
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {assets.import_map_hash}",
            "worker-src blob:",
            f"connect-src {storage} blob:",
            f"img-src {storage} data: blob:",
            f"media-src {storage} blob:",
            "style-src 'self' 'unsafe-inline'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _page_headers(settings: Settings, assets: ViewerAssets) -> dict[str, str]:
    return {
        "Content-Security-Policy": _page_policy(settings, assets),
        "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
        "Cache-Control": "no-cache",
    }


@router.get(
    "/v/{public_id}",
    response_class=HTMLResponse,
    dependencies=[Depends(limit_per_ip("viewer-page", VIEWER_RULE))],
)
async def viewer_page(
    public_id: str, settings: SettingsDep, storage: StorageDep, sessions: SessionFactoryDep
) -> HTMLResponse:
    """The viewer for a published content, from its cached manifest (the title, poster,
    app link and compiled target's link are in the HTML); the same plain 404 page for
    anything else."""
    assets = viewer_assets()
    headers = _page_headers(settings, assets)
    manifest = await _manifest(public_id, settings, storage, sessions)
    if manifest is None:
        html = _templates.get_template("not_found.html").render(css=assets.url("viewer.css"))
        return HTMLResponse(html, status_code=404, headers=headers)
    html = _templates.get_template("page.html").render(
        title=manifest.content.title,
        poster_url=manifest.video.poster_url if manifest.video else None,
        app_link=manifest.app_link,
        manifest_url=f"/api/v1/viewer/{public_id}",
        # Fetched by the page before it reads the manifest (nothing to track without a video).
        mind_url=manifest.marker.mind_url if manifest.video else None,
        events_url=f"/api/v1/viewer/{public_id}/events",
        import_map=assets.import_map,
        modules=assets.modules,
        viewer_js=assets.url("viewer.js"),
        css=assets.url("viewer.css"),
    )
    return HTMLResponse(html, headers=headers)


async def _manifest(
    public_id: str,
    settings: Settings,
    storage: StorageProvider,
    sessions: sessionmaker[Session],
) -> Manifest | None:
    if len(public_id) != PUBLIC_ID_LENGTH:
        return None
    try:
        served = await viewer_service.served_manifest(sessions, storage, settings, public_id)
    except NotFoundError:
        return None
    return Manifest.model_validate_json(served.body)


@router.get(f"{URL_PREFIX}/{{version}}/{{name}}")
def viewer_asset(
    version: str,
    name: str,
    accept_encoding: Annotated[str, Header()] = "",
    if_none_match: Annotated[str, Header()] = "",
) -> Response:
    """One file of the allow-list at its current hash; gzipped when the client accepts it."""
    asset = viewer_assets().find(version, name)
    if asset is None:
        raise NotFoundError("No such viewer asset.")
    etag = f'"{asset.version}-{asset.name}"'
    headers = {"Cache-Control": _IMMUTABLE, "ETag": etag, "Vary": "Accept-Encoding"}
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in accept_encoding.lower():
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
