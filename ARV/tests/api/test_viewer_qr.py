"""QR codes of the public viewer link and the printable sheet, as a person would check
them: the PNG decoded back to the link with OpenCV, the SVG rasterised from its modules
and decoded the same way, the sheet's picture found on it beside a code that decodes.
Sizes and margins are honoured and bounded; only a published content has codes (anything
else is 404 alike); caches revalidate with strong ETags.

Contents are made publishable with the factories and published through the API, as in
`test_publishing.py`; the print tests put a real picture in local storage under the
marker's `image_key`."""

import io
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import cv2
import httpx2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.typing import NDArray
from PIL import Image
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.core.storage import StorageProvider
from app.models import ARContent, Marker, Project, ScheduledVideo
from tests.conftest import ClientFactory
from tests.support.api import assert_error
from tests.support.factories import (
    Tenant,
    make_content,
    make_marker,
    make_project,
    make_tenant,
    make_video,
)
from tests.support.marker_images import detailed_jpeg

BASE_URL = "https://arv.example"
CODES = ("qr.png", "qr.svg", "print.png")
Grey = NDArray[np.uint8]


@pytest.fixture
def viewer_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "STORAGE_PROVIDER": "local",
            "STORAGE_LOCAL_ROOT": tmp_path,
            "PUBLIC_BASE_URL": BASE_URL,
        }
    )


@pytest.fixture
def client(client_for: ClientFactory, viewer_settings: Settings) -> TestClient:
    return client_for(viewer_settings)


@pytest.fixture
def storage(client: TestClient) -> StorageProvider:
    storage: StorageProvider = client.app.state.storage  # type: ignore[attr-defined]
    return storage


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def project(db: Session, tenant: Tenant) -> Project:
    return make_project(db, tenant.company)


def content_url(content: ARContent, suffix: str = "") -> str:
    return (
        f"/api/v1/companies/{content.company_id}/projects/{content.project_id}"
        f"/ar-contents/{content.id}{suffix}"
    )


def transition(client: TestClient, tenant: Tenant, content: ARContent, action: str) -> None:
    response = client.post(content_url(content, f"/{action}"), headers=tenant.headers[Role.ADMIN])
    assert response.status_code in (200, 201), response.text


def publishable(
    db: Session, tenant: Tenant, project: Project, title: str = "Postcard"
) -> ARContent:
    """A ready marker scoring 80 and a ready default video: every publish condition holds."""
    content = make_content(db, project, title)
    make_marker(db, content)
    video = make_video(db, tenant.company, f"{title} video")
    db.add(
        ScheduledVideo(company_id=content.company_id, ar_content_id=content.id, video_id=video.id)
    )
    db.flush()
    return content


@pytest.fixture
def published(client: TestClient, db: Session, tenant: Tenant, project: Project) -> ARContent:
    content = publishable(db, tenant, project)
    transition(client, tenant, content, "publish")
    return content


def code_url(content: ARContent | str, name: str) -> str:
    public_id = content if isinstance(content, str) else content.public_id
    return f"/api/v1/viewer/{public_id}/{name}"


def link(content: ARContent) -> str:
    return f"{BASE_URL}/v/{content.public_id}"


def grey(png: bytes) -> Grey:
    pixels = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert pixels is not None
    return np.asarray(pixels, dtype=np.uint8)


# OpenCV's detector misses some codes at one scale and reads them at another (its finder
# search is scale-sensitive): a code counts as read if any of these scales reads it.
DECODE_SCALES = (1.0, 0.5, 0.75, 1.5)


def decoded(pixels: Grey) -> str:
    found = False
    for scale in DECODE_SCALES:
        scaled = pixels if scale == 1.0 else cv2.resize(pixels, None, fx=scale, fy=scale)
        text, points, _ = cv2.QRCodeDetector().detectAndDecode(scaled)
        found = found or points is not None
        if text:
            return str(text)
    assert found, "no QR code found"
    return ""


def with_quiet_zone(pixels: Grey, width: int) -> Grey:
    bordered = cv2.copyMakeBorder(
        pixels, width, width, width, width, cv2.BORDER_CONSTANT, value=255
    )
    return np.asarray(bordered, dtype=np.uint8)


def first_dark(pixels: Grey) -> int:
    """How many light rows and columns come before the first dark pixel (top left)."""
    rows = np.flatnonzero((pixels < 128).any(axis=1))
    columns = np.flatnonzero((pixels < 128).any(axis=0))
    assert rows[0] == columns[0]
    return int(rows[0])


def ok(response: httpx2.Response, media_type: str) -> bytes:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type
    return response.content


# -- PNG --------------------------------------------------------------------------------------


def test_the_png_decodes_to_the_viewer_link(client: TestClient, published: ARContent) -> None:
    pixels = grey(ok(client.get(code_url(published, "qr.png")), "image/png"))
    assert pixels.shape == (512, 512)
    assert decoded(pixels) == link(published)


@pytest.mark.parametrize("size", [96, 300, 2048])
def test_the_png_is_the_size_asked_for(client: TestClient, published: ARContent, size: int) -> None:
    pixels = grey(ok(client.get(code_url(published, "qr.png"), params={"size": size}), "image/png"))
    assert pixels.shape == (size, size)
    assert decoded(pixels) == link(published)


@pytest.mark.parametrize("margin", [0, 1, 4, 16])
def test_the_png_quiet_zone_is_the_margin_in_modules(
    client: TestClient, published: ARContent, margin: int
) -> None:
    response = client.get(code_url(published, "qr.png"), params={"size": 1000, "margin": margin})
    pixels = grey(ok(response, "image/png"))
    modules = _module_count(pixels)
    assert first_dark(pixels) == pytest.approx(margin * 1000 / modules, abs=1)
    assert decoded(with_quiet_zone(pixels, 100)) == link(published)


def _module_count(pixels: Grey) -> int:
    """The code's side in modules, quiet zone included: the finder pattern in the top left
    corner is 7 modules wide."""
    start = first_dark(pixels)
    row = pixels[start] < 128
    finder = int(np.argmin(row[start:]))  # the first light pixel after the finder's top edge
    return round(len(pixels) * 7 / finder)


# -- SVG --------------------------------------------------------------------------------------


def svg_modules(svg: bytes) -> tuple[ET.Element, NDArray[np.bool_]]:
    """The document, and its dark modules drawn from the path's `M x y h n v1 h-n z` runs."""
    root = ET.fromstring(svg)  # noqa: S314 (the API's own output)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    side = int(root.attrib["viewBox"].split()[2])
    dark = np.zeros((side, side), dtype=bool)
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    for x, y, n in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path.attrib["d"]):
        dark[int(y), int(x) : int(x) + int(n)] = True
    return root, dark


def rasterised(dark: NDArray[np.bool_], scale: int) -> Grey:
    return np.where(np.kron(dark, np.ones((scale, scale), dtype=bool)), 0, 255).astype(np.uint8)


def test_the_svg_decodes_to_the_viewer_link(client: TestClient, published: ARContent) -> None:
    svg = ok(client.get(code_url(published, "qr.svg")), "image/svg+xml")
    root, dark = svg_modules(svg)
    side = len(dark)
    assert root.attrib["viewBox"] == f"0 0 {side} {side}"
    assert (root.attrib["width"], root.attrib["height"]) == (str(side * 10), str(side * 10))
    assert decoded(rasterised(dark, 10)) == link(published)


@pytest.mark.parametrize(("size", "margin"), [(1, 4), (7, 0), (64, 16)])
def test_the_svg_scale_and_margin_are_honoured(
    client: TestClient, published: ARContent, size: int, margin: int
) -> None:
    response = client.get(code_url(published, "qr.svg"), params={"size": size, "margin": margin})
    root, dark = svg_modules(ok(response, "image/svg+xml"))
    side = len(dark)
    assert root.attrib["width"] == str(side * size)
    assert first_dark(rasterised(dark, 1)) == margin
    # A QR code's side is 17 + 4 x version modules.
    assert (side - 2 * margin - 17) % 4 == 0
    assert decoded(with_quiet_zone(rasterised(dark, 8), 32)) == link(published)


# -- bounds -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("qr.png", {"size": 63}),
        ("qr.png", {"size": 2049}),
        ("qr.png", {"margin": -1}),
        ("qr.png", {"margin": 17}),
        ("qr.png", {"size": "big"}),
        ("qr.svg", {"size": 0}),
        ("qr.svg", {"size": 65}),
        ("qr.svg", {"margin": 17}),
    ],
)
def test_sizes_and_margins_are_bounded(
    client: TestClient, published: ARContent, name: str, params: dict[str, int | str]
) -> None:
    assert_error(client.get(code_url(published, name), params=params), 422, "validation_error")


# -- what has codes ---------------------------------------------------------------------------

Hide = Callable[[TestClient, Session, Tenant, ARContent], None]


def _unpublish(client: TestClient, db: Session, tenant: Tenant, content: ARContent) -> None:
    transition(client, tenant, content, "unpublish")


def _archive(client: TestClient, db: Session, tenant: Tenant, content: ARContent) -> None:
    transition(client, tenant, content, "unpublish")
    transition(client, tenant, content, "archive")


def _delete(client: TestClient, db: Session, tenant: Tenant, content: ARContent) -> None:
    transition(client, tenant, content, "unpublish")
    response = client.delete(content_url(content), headers=tenant.headers[Role.ADMIN])
    assert response.status_code == 204, response.text


@pytest.mark.parametrize("hide", [_unpublish, _archive, _delete])
@pytest.mark.parametrize("name", CODES)
def test_a_content_off_the_air_has_no_codes(
    client: TestClient,
    db: Session,
    tenant: Tenant,
    published: ARContent,
    storage: StorageProvider,
    name: str,
    hide: Hide,
) -> None:
    put_picture(db, storage, published)
    assert client.get(code_url(published, name)).status_code == 200
    hide(client, db, tenant, published)
    assert_error(client.get(code_url(published, name)), 404, "not_found")


@pytest.mark.parametrize("name", CODES)
def test_drafts_and_unknown_ids_have_no_codes(
    client: TestClient, db: Session, tenant: Tenant, project: Project, name: str
) -> None:
    draft = publishable(db, tenant, project, "Draft")
    assert_error(client.get(code_url(draft, name)), 404, "not_found")
    assert_error(client.get(code_url(uuid.uuid4().hex[:12], name)), 404, "not_found")


def test_codes_need_no_sign_in_and_are_rate_limited(
    client_for: ClientFactory, viewer_settings: Settings, published: ARContent
) -> None:
    limited = client_for(viewer_settings.model_copy(update={"VIEWER_RATE_LIMIT_PER_IP": 2}))
    url = code_url(published, "qr.svg")
    assert [limited.get(url).status_code for _ in range(2)] == [200, 200]
    refused = limited.get(url)
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0


# -- caching ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CODES)
def test_codes_revalidate_with_a_strong_etag(
    client: TestClient, db: Session, storage: StorageProvider, published: ARContent, name: str
) -> None:
    put_picture(db, storage, published)
    first = client.get(code_url(published, name))
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    assert re.fullmatch(r"public, max-age=\d+", first.headers["cache-control"])
    assert client.get(code_url(published, name)).headers["etag"] == etag
    again = client.get(code_url(published, name), headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    stale = client.get(code_url(published, name), headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200


def test_each_size_and_margin_has_its_own_etag(client: TestClient, published: ARContent) -> None:
    url = code_url(published, "qr.png")
    etags = {
        client.get(url, params=params).headers["etag"]
        for params in ({}, {"size": 256}, {"margin": 2}, {"size": 256, "margin": 2})
    }
    assert len(etags) == 4


# -- the print sheet --------------------------------------------------------------------------


def put_picture(
    db: Session, storage: StorageProvider, content: ARContent, size: tuple[int, int] = (1000, 750)
) -> bytes:
    """A real picture in storage under the content's marker's `image_key`."""
    marker = db.query(Marker).filter(Marker.ar_content_id == content.id).one()
    assert marker.image_key is not None
    picture = detailed_jpeg(1, size)
    writer = storage.open_writer(marker.image_key, "image/jpeg")
    writer.write(picture)
    writer.commit()
    return picture


def sheet(client: TestClient, content: ARContent) -> Image.Image:
    body = ok(client.get(code_url(content, "print.png")), "image/png")
    image = Image.open(io.BytesIO(body))
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    return image.convert("RGB")


def picture_box(image: Image.Image, picture: bytes) -> tuple[int, int, int, int]:
    """Where the picture is on the sheet (x, y, width, height), found by template matching."""
    sheet_grey = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY)
    original = grey(picture)
    scale = 1500 / max(original.shape)
    template = cv2.resize(original, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    scores = cv2.matchTemplate(sheet_grey, template, cv2.TM_CCOEFF_NORMED)
    _, best, _, (x, y) = cv2.minMaxLoc(scores)
    assert best > 0.95
    return x, y, template.shape[1], template.shape[0]


@pytest.mark.parametrize(("size", "beside"), [((1000, 750), True), ((600, 900), False)])
def test_the_sheet_shows_the_picture_and_a_code_that_decodes(
    client: TestClient,
    db: Session,
    storage: StorageProvider,
    published: ARContent,
    size: tuple[int, int],
    beside: bool,
) -> None:
    picture = put_picture(db, storage, published, size)
    image = sheet(client, published)
    assert max(image.size) <= 3000
    x, y, width, height = picture_box(image, picture)
    rest = np.asarray(image).copy()
    rest[y : y + height, x : x + width] = 255  # the picture's words must not confuse the detector
    pixels = cv2.cvtColor(rest, cv2.COLOR_RGB2GRAY)
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(pixels)
    assert text == link(published)
    centre_x, centre_y = points.reshape(-1, 2).mean(axis=0)
    if beside:
        assert centre_x > x + width
        assert y <= centre_y <= y + height
    else:
        assert centre_y > y + height
        assert x <= centre_x <= x + width


def test_the_sheet_shows_the_published_title_not_the_draft(
    client: TestClient,
    db: Session,
    tenant: Tenant,
    storage: StorageProvider,
    published: ARContent,
) -> None:
    put_picture(db, storage, published)
    first = client.get(code_url(published, "print.png"))
    response = client.patch(
        content_url(published),
        json={"title": "A much longer title, edited in the draft"},
        headers=tenant.headers[Role.EDITOR],
    )
    assert response.status_code == 200, response.text
    # The draft's edit is not on the air: the same sheet, byte for byte.
    assert client.get(code_url(published, "print.png")).content == first.content
    transition(client, tenant, published, "publish")
    republished = client.get(code_url(published, "print.png"))
    assert republished.headers["etag"] != first.headers["etag"]
    assert republished.content != first.content


def test_a_sheet_without_its_picture_is_not_found(client: TestClient, published: ARContent) -> None:
    assert_error(client.get(code_url(published, "print.png")), 404, "not_found")
