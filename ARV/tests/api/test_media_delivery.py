"""Media as players and CDNs fetch it. Local signed links answer HEAD, conditional requests
and bad ranges as an origin server should; playlists and storyboard tracks come through
the API with every URI inside signed; and real ffmpeg plays HLS through those links, on
local storage and on S3 (moto over HTTP), served by a real uvicorn."""

import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.storage import LocalStorage, StorageProvider, build_storage
from app.services.media_delivery import MediaDelivery
from app.utils.ffmpeg import FfmpegConfig, HlsVariant, hls_command, master_playlist, probe
from tests.support.api import assert_error
from tests.support.media import make_clip
from tests.support.processes import free_port, project_env, running, uvicorn_command, wait_until
from tests.support.s3_server import S3_ACCESS_KEY_ID, S3_REGION, S3_SECRET_ACCESS_KEY

MASTER_TEXT = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=640x360\n360p/index.m3u8\n"
VARIANT_TEXT = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n"
    '#EXT-X-MAP:URI="init.mp4"\n#EXTINF:4.000000,\nseg_00000.ts\n#EXT-X-ENDLIST\n'
)


@dataclass(frozen=True, slots=True)
class Keys:
    """Where one test's outputs live, as the pipeline lays them out."""

    folder: str

    @property
    def master(self) -> str:
        return f"{self.folder}hls/master.m3u8"

    @property
    def variant(self) -> str:
        return f"{self.folder}hls/360p/index.m3u8"

    @property
    def segment(self) -> str:
        return f"{self.folder}hls/360p/seg_00000.ts"


@pytest.fixture
def keys() -> Keys:
    return Keys(f"companies/{uuid.uuid4()}/videos/{uuid.uuid4()}/out/{uuid.uuid4()}/")


@pytest.fixture
def storage(settings: Settings) -> LocalStorage:
    settings.local_storage_root.mkdir(parents=True, exist_ok=True)
    built = build_storage(settings)
    assert isinstance(built, LocalStorage)
    return built


@pytest.fixture
def delivery(storage: LocalStorage, settings: Settings) -> MediaDelivery:
    return MediaDelivery(storage, settings)


def put(storage: StorageProvider, key: str, data: bytes, content_type: str) -> None:
    writer = storage.open_writer(key, content_type)
    writer.write(data)
    writer.commit()


def soon() -> int:
    return int(time.time()) + 600


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def uris(playlist: str) -> list[str]:
    lines = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    return lines + re.findall(r'URI="([^"]*)"', playlist)


# Local signed links: what a player and a CDN expect of an origin
def test_head_answers_like_get_without_a_body(
    keys: Keys, client: TestClient, storage: LocalStorage
) -> None:
    put(storage, keys.segment, b"0123456789", "video/mp2t")
    url = path_of(storage.download_url(keys.segment, 60, immutable=True))
    got, head = client.get(url), client.head(url)
    assert (got.status_code, head.status_code) == (200, 200)
    assert head.content == b""
    for name in ("Content-Length", "Content-Type", "ETag", "Last-Modified", "Cache-Control"):
        assert head.headers[name] == got.headers[name], name
    assert got.headers["Content-Length"] == "10"


def test_validators_answer_304(keys: Keys, client: TestClient, storage: LocalStorage) -> None:
    put(storage, keys.segment, b"segment bytes", "video/mp2t")
    url = path_of(storage.download_url(keys.segment, 60))
    first = client.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")

    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": modified},
        {"If-Modified-Since": formatdate(time.time() + 3600, usegmt=True)},
    ):
        cached = client.get(url, headers=headers)
        assert cached.status_code == 304, headers
        assert cached.content == b""
        assert cached.headers["ETag"] == etag

    for headers in (
        {"If-None-Match": '"other"'},
        {"If-Modified-Since": formatdate(time.time() - 86400, usegmt=True)},
        # If-None-Match decides when both are sent.
        {"If-None-Match": '"other"', "If-Modified-Since": modified},
        {"If-Modified-Since": "not a date"},
    ):
        assert client.get(url, headers=headers).content == b"segment bytes", headers


def test_outputs_are_cached_for_their_link_life_and_the_rest_revalidated(
    keys: Keys, client: TestClient, storage: LocalStorage
) -> None:
    put(storage, keys.segment, b"x", "video/mp2t")
    immutable = client.get(path_of(storage.download_url(keys.segment, 600, immutable=True)))
    cache = immutable.headers["Cache-Control"]
    assert cache.startswith("public, max-age=")
    assert cache.endswith(", immutable")
    assert 590 <= int(cache.split("max-age=")[1].split(",")[0]) <= 600
    plain = client.get(path_of(storage.download_url(keys.segment, 600)))
    assert plain.headers["Cache-Control"] == "private, no-cache"
    # The promise is signed: a link cannot be made immutable by adding the parameter.
    forged = path_of(storage.download_url(keys.segment, 600)) + "&immutable=true"
    assert_error(client.get(forged), 403, "link_invalid")


def test_a_range_outside_the_object_is_refused_in_the_envelope(
    keys: Keys, client: TestClient, storage: LocalStorage
) -> None:
    put(storage, keys.segment, b"0123456789", "video/mp2t")
    url = path_of(storage.download_url(keys.segment, 60))
    refused = client.get(url, headers={"Range": "bytes=10-20"})
    error = assert_error(refused, 416, "range_not_satisfiable")
    assert error["details"] == {"size": 10}
    assert refused.headers["Content-Range"] == "bytes */10"
    assert_error(client.get(url, headers={"Range": "lines=1-2"}), 400, "malformed_request")
    # A stale If-Range means "send it all", whatever the range says.
    whole = client.get(url, headers={"Range": "bytes=10-20", "If-Range": '"stale"'})
    assert (whole.status_code, whole.content) == (200, b"0123456789")
    ranged = client.get(url, headers={"Range": "bytes=2-4"})
    assert (ranged.status_code, ranged.content) == (206, b"234")


@pytest.mark.parametrize(
    "query",
    ["", "?expires=2000000000", "?signature=00", "?expires=soon&signature=00", "?expires=-1"],
)
def test_an_unsigned_or_malformed_link_is_403_not_422(
    keys: Keys, client: TestClient, storage: LocalStorage, query: str
) -> None:
    put(storage, keys.segment, b"x", "video/mp2t")
    for path in (f"/api/v1/storage/local/objects/{keys.segment}", f"/api/v1/media/{keys.master}"):
        assert_error(client.get(path + query), 403, "link_invalid")
    put_path = f"/api/v1/storage/local/objects/{keys.segment}{query}"
    assert_error(client.put(put_path, content=b"y"), 403, "link_invalid")


# Playlists and tracks through the API
@pytest.fixture
def hls_files(keys: Keys, storage: LocalStorage) -> None:
    put(storage, keys.master, MASTER_TEXT.encode(), "application/vnd.apple.mpegurl")
    put(storage, keys.variant, VARIANT_TEXT.encode(), "application/vnd.apple.mpegurl")
    put(storage, keys.segment, b"segment", "video/mp2t")
    put(storage, f"{keys.folder}hls/360p/init.mp4", b"init", "video/mp4")


@pytest.mark.usefixtures("hls_files")
def test_a_playlist_comes_back_with_every_uri_signed_until_its_own_expiry(
    keys: Keys, client: TestClient, delivery: MediaDelivery
) -> None:
    expires = soon()
    master = client.get(path_of(delivery.link(keys.master, expires)))
    assert master.status_code == 200, master.text
    assert master.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    [variant_url] = uris(master.text)
    assert "/api/v1/media/" in variant_url
    assert parse_qs(urlsplit(variant_url).query)["expires"] == [str(expires)]

    variant = client.get(path_of(variant_url))
    assert variant.status_code == 200, variant.text
    segment_url, init_url = uris(variant.text)
    assert "#EXTINF:4.000000," in variant.text
    for url, content in ((segment_url, b"segment"), (init_url, b"init")):
        query = parse_qs(urlsplit(url).query)
        assert query["immutable"] == ["true"]
        assert int(query["expires"][0]) >= expires
        assert client.get(path_of(url)).content == content


@pytest.mark.usefixtures("hls_files")
def test_a_tampered_or_expired_nested_link_is_refused(
    keys: Keys, client: TestClient, delivery: MediaDelivery
) -> None:
    [variant_url] = uris(client.get(path_of(delivery.link(keys.master, soon()))).text)
    signature = parse_qs(urlsplit(variant_url).query)["signature"][0]
    tampered = variant_url.replace(signature, f"{int(signature[0], 16) ^ 1:x}{signature[1:]}")
    assert_error(client.get(path_of(tampered)), 403, "link_invalid")
    assert_error(client.get(path_of(variant_url.replace("360p", "720p"))), 403, "link_invalid")
    longer = variant_url.replace(
        str(parse_qs(urlsplit(variant_url).query)["expires"][0]), "9999999999"
    )
    assert_error(client.get(path_of(longer)), 403, "link_invalid")
    expired = delivery.link(keys.master, int(time.time()) - 1)
    assert_error(client.get(path_of(expired)), 403, "link_expired")


@pytest.mark.usefixtures("hls_files")
def test_a_playlist_revalidates_and_answers_head(
    keys: Keys, client: TestClient, delivery: MediaDelivery
) -> None:
    url = path_of(delivery.link(keys.master, soon()))
    first = client.get(url)
    assert first.headers["Cache-Control"] == "private, max-age=60"
    # Same link, same body: the ETag lets a cache keep it.
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert (again.status_code, again.content) == (304, b"")
    head = client.head(url)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Length"] == str(len(first.content))
    assert head.headers["ETag"] == first.headers["ETag"]


def test_references_cannot_leave_the_tenant_folder(
    keys: Keys, client: TestClient, storage: LocalStorage, delivery: MediaDelivery
) -> None:
    escaping = "#EXTM3U\n#EXTINF:4,\n../../../../../../other/secret.ts\n"
    put(storage, keys.master, escaping.encode(), "application/vnd.apple.mpegurl")
    assert_error(client.get(path_of(delivery.link(keys.master, soon()))), 404, "not_found")


def test_only_playlists_and_tracks_are_served_and_missing_ones_are_404(
    keys: Keys, client: TestClient, storage: LocalStorage, delivery: MediaDelivery
) -> None:
    assert_error(client.get(path_of(delivery.link(keys.master, soon()))), 404, "not_found")
    put(storage, keys.segment, b"x", "video/mp2t")
    # A document link cannot be minted for a segment; a forged one is refused.
    segment_as_document = f"/api/v1/media/{keys.segment}?expires={soon()}&signature=00"
    assert_error(client.get(segment_as_document), 403, "link_invalid")


def test_a_storyboard_track_points_at_the_signed_sprite(
    keys: Keys, client: TestClient, storage: LocalStorage, delivery: MediaDelivery
) -> None:
    vtt = (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard.jpg#xywh=0,0,160,90\n\n"
        "00:00:02.000 --> 00:00:04.000\nstoryboard.jpg#xywh=160,0,160,90\n"
    )
    put(storage, f"{keys.folder}storyboard.vtt", vtt.encode(), "text/vtt")
    put(storage, f"{keys.folder}storyboard.jpg", b"\xff\xd8sprite", "image/jpeg")
    track = client.get(path_of(delivery.link(f"{keys.folder}storyboard.vtt", soon())))
    assert track.status_code == 200
    assert track.headers["Content-Type"].startswith("text/vtt")
    lines = track.text.splitlines()
    assert lines[:3] == ["WEBVTT", "", "00:00:00.000 --> 00:00:02.000"]
    cues = [line for line in lines if "#xywh=" in line]
    assert [cue.rsplit("#", 1)[1] for cue in cues] == ["xywh=0,0,160,90", "xywh=160,0,160,90"]
    sprite = client.get(path_of(cues[0].rsplit("#", 1)[0]))
    assert (sprite.status_code, sprite.content) == (200, b"\xff\xd8sprite")


# Real players: ffmpeg over HTTP, through a real API process
def make_hls(keys: Keys, tmp_path: Path, storage: StorageProvider) -> str:
    """A real two-rung HLS set in storage, as the pipeline lays it out; returns the
    master's key."""
    config = FfmpegConfig()
    variants = []
    for height in (180, 360):
        clip = make_clip(
            tmp_path / f"{height}.mp4", width=height * 16 // 9, height=height, seconds=6, gop=50
        )
        out = tmp_path / f"{height}p"
        out.mkdir()
        subprocess.run(hls_command(clip, out, config), check=True, capture_output=True)
        for path in sorted(out.iterdir()):
            kind = "application/vnd.apple.mpegurl" if path.suffix == ".m3u8" else "video/mp2t"
            storage.put_file(f"{keys.folder}hls/{height}p/{path.name}", path, kind)
        info = probe(clip, config)
        variants.append(
            HlsVariant(f"{height}p/index.m3u8", 400_000, info.display_width, info.display_height)
        )
    master = tmp_path / "master.m3u8"
    master.write_text(master_playlist(variants))
    storage.put_file(keys.master, master, "application/vnd.apple.mpegurl")
    return keys.master


def play(url: str, tmp_path: Path) -> tuple[int, str, float]:
    """Have ffmpeg play `url` to a file; returns its exit code, stderr and the duration."""
    out = tmp_path / f"played-{uuid.uuid4().hex[:6]}.ts"
    result = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-map", "0", "-c", "copy", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    duration = probe(out, FfmpegConfig()).duration if result.returncode == 0 else 0.0
    return result.returncode, result.stderr, duration


@pytest.fixture(params=["local", "s3"])
def served_storage(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> tuple[Settings, dict[str, str]]:
    """Settings for the API process and this test alike, on either provider."""
    port = free_port()
    env = {"API_PUBLIC_URL": f"http://127.0.0.1:{port}", "PORT": str(port)}
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        env |= {
            "STORAGE_PROVIDER": "s3",
            "S3_ENDPOINT_URL": endpoint,
            "S3_BUCKET": request.getfixturevalue("s3_bucket"),
            "S3_REGION": S3_REGION,
            "S3_ACCESS_KEY_ID": S3_ACCESS_KEY_ID,
            "S3_SECRET_ACCESS_KEY": S3_SECRET_ACCESS_KEY,
        }
    return Settings(**{**settings.model_dump(), **env}), env


@pytest.mark.integration
def test_ffmpeg_plays_hls_through_the_links_the_api_hands_out(
    keys: Keys, served_storage: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    settings, env = served_storage
    storage = build_storage(settings)
    master_key = make_hls(keys, tmp_path, storage)
    delivery = MediaDelivery(storage, settings)
    port = int(env["PORT"])
    with running(uvicorn_command(port), project_env(**env), tmp_path / "api.log"):
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/health"), 30, "the API")
        code, stderr, duration = play(delivery.link(master_key, soon()), tmp_path)
        assert code == 0, stderr + (tmp_path / "api.log").read_text()
        assert duration == pytest.approx(6.0, abs=0.5)

        expired_code, expired_stderr, _ = play(
            delivery.link(master_key, int(time.time()) - 1), tmp_path
        )
        assert expired_code != 0
        assert "403" in expired_stderr

        [variant_url, _] = uris(httpx2.get(delivery.link(master_key, soon())).text)
        tampered = variant_url.replace("signature=", "signature=0")
        tampered_code, tampered_stderr, _ = play(tampered, tmp_path)
        assert tampered_code != 0
        assert "403" in tampered_stderr


def _answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=2).status_code == 200
    except httpx2.HTTPError:
        return False
