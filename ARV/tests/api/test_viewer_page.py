"""The WebAR viewer page at the public link and the scripts it runs, served by the API
from the committed npm packages under content-hashed, immutable URLs."""

import re
from html import escape as html_escape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.viewer_assets import viewer_assets
from app.models import ARContent
from tests.conftest import ClientFactory
from tests.support.factories import Tenant, make_project, make_tenant
from tests.support.publishing import call, ok, publish, publishable


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def content(db: Session, tenant: Tenant) -> ARContent:
    """A draft every publish condition holds for, titled with characters HTML escapes."""
    return publishable(db, tenant, make_project(db, tenant.company), "Happy <birthday>")


@pytest.fixture
def published(client: TestClient, tenant: Tenant, content: ARContent) -> ARContent:
    publish(client, tenant, content)
    return content


# Static `import ... from "x"` and `export ... from "x"`, and dynamic `import("x")`.
_IMPORTS = re.compile(
    r"""(?:^(?:import|export)\b[^;]*?\bfrom\s*|\bimport\(\s*)["']([^"']+)["']""", re.M
)


def _script_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/viewer-assets/[^"]+\.js)"', html)


def test_the_page_of_a_published_content(client: TestClient, published: ARContent) -> None:
    content = published
    response = client.get(f"/v/{content.public_id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "<title>Happy &lt;birthday&gt;</title>" in html
    assert f'data-manifest="/api/v1/viewer/{content.public_id}"' in html
    assert f'data-events="/api/v1/viewer/{content.public_id}/events"' in html
    # The compiled target's signed link, so the page fetches it before the manifest.
    manifest = client.get(f"/api/v1/viewer/{content.public_id}").json()
    assert f'data-mind="{html_escape(manifest["marker"]["mind_url"])}"' in html
    assert "Point your camera at the picture." in html
    assert "Open in the app" not in html  # no app configured
    # Every script comes from the API itself; the import map names them.
    assert "http" not in "".join(re.findall(r'src="([^"]*\.js)"', html))
    assert set(_script_urls(html)) == set(viewer_assets().modules)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in policy
    assert "worker-src blob:" in policy
    assert "frame-ancestors 'none'" in policy
    assert "camera=(self)" in response.headers["permissions-policy"]


def test_the_page_links_the_app_when_there_is_one(
    client_for: ClientFactory, settings: Settings, published: ARContent
) -> None:
    linked = client_for(
        settings.model_copy(update={"VIEWER_APP_LINK_TEMPLATE": "arvlite://content/{public_id}"})
    )
    html = linked.get(f"/v/{published.public_id}").text
    assert f'href="arvlite://content/{published.public_id}">Open in the app</a>' in html


def test_the_page_policy_allows_exactly_the_inline_import_map(
    client: TestClient, published: ARContent
) -> None:
    response = client.get(f"/v/{published.public_id}")
    inline = re.findall(r"<script type=\"importmap\">(.*?)</script>", response.text)
    assert inline == [viewer_assets().import_map]
    assert viewer_assets().import_map_hash in response.headers["content-security-policy"]


@pytest.mark.parametrize("steps", [["/unpublish"], ["/unpublish", "/archive"]])
def test_anything_taken_off_the_air_gets_the_same_404_page(
    client: TestClient, tenant: Tenant, published: ARContent, steps: list[str]
) -> None:
    before = client.get(f"/v/{published.public_id}")
    for step in steps:
        ok(call(client, tenant, published, step))
    hidden = client.get(f"/v/{published.public_id}")
    unknown = client.get("/v/abcdefghijkl")
    too_long = client.get("/v/" + "a" * 65)
    assert before.status_code == 200
    assert hidden.status_code == unknown.status_code == too_long.status_code == 404
    assert hidden.text == unknown.text == too_long.text
    assert "Nothing to show here" in hidden.text


def test_a_draft_gets_the_404_page(client: TestClient, content: ARContent) -> None:
    response = client.get(f"/v/{content.public_id}")
    assert response.status_code == 404
    assert "Nothing to show here" in response.text


def test_api_responses_keep_the_strict_policy(client: TestClient) -> None:
    response = client.get("/health")
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["permissions-policy"].startswith("camera=()")


def test_assets_are_gzipped_and_immutable(client: TestClient) -> None:
    for url in viewer_assets().modules:
        response = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, url
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "Accept-Encoding" in response.headers["vary"]
        name = url.rsplit("/", 1)[1]
        assert response.content == viewer_assets().by_name[name].body  # decoded by the client
    three = viewer_assets().by_name["three.module.min.js"]
    assert len(three.gzipped) < len(three.body) / 3


def test_an_asset_without_gzip_and_revalidated(client: TestClient) -> None:
    url = viewer_assets().url("viewer.js")
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == viewer_assets().by_name["viewer.js"].body
    again = client.get(url, headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304


def test_each_module_imports_only_served_modules() -> None:
    """Relative imports resolve inside the module's own hashed folder; bare ones through
    the import map."""
    assets = viewer_assets()
    mapped = set(re.findall(r'"([^"]+)":', assets.import_map)) - {"imports"}
    for asset in assets.by_name.values():
        if asset.media_type != "text/javascript":
            continue
        text = asset.body.decode()
        for spec in _IMPORTS.findall(text):
            if spec.startswith("./"):
                assert assets.find(asset.version, spec[2:]) is not None, (asset.name, spec)
            else:
                assert spec in mapped, (asset.name, spec)


@pytest.mark.parametrize(
    "path",
    [
        "/viewer-assets/{version}/package.json",
        "/viewer-assets/{version}/mindar-image-aframe.prod.js",
        "/viewer-assets/0000000000000000/viewer.js",
        "/viewer-assets/{version}/..%2F..%2F..%2Fpackage.json",
        "/viewer-assets/{version}/%2e%2e%2fviewer.js",
        "/viewer-assets/{version}/../../app/main.py",
        "/viewer-assets/..%2f..%2fetc/passwd",
    ],
)
def test_unknown_assets_and_traversal_are_not_found(client: TestClient, path: str) -> None:
    version = viewer_assets().by_name["viewer.js"].version
    response = client.get(path.format(version=version))
    assert response.status_code == 404
    assert "cache-control" not in response.headers
