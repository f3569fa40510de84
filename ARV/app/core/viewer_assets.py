"""The WebAR viewer's browser files: an allow-list of scripts from the committed npm lock
file (mind-ar, three) and the viewer's own, each read once, gzipped once, and addressed by
a content hash so browsers may keep them forever."""

import base64
import gzip
import hashlib
import json
import mimetypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_APP_DIR = Path(__file__).resolve().parents[1]
# The repository (or /srv/arvlite in the image), where node_modules lives.
_NODE_MODULES = _APP_DIR.parents[1] / "node_modules"
_STATIC = _APP_DIR / "static" / "viewer"

# Files a group shares one hash, so a module's relative imports ("./ui-fBadYuor.js")
# resolve inside its own group. The mind-ar chunk names are those of the pinned 1.2.5.
_GROUPS: dict[str, dict[str, Path]] = {
    "three": {
        "three.module.min.js": _NODE_MODULES / "three/build/three.module.min.js",
        "CSS3DRenderer.js": _NODE_MODULES / "three/examples/jsm/renderers/CSS3DRenderer.js",
    },
    "mind-ar": {
        "mindar-image-three.prod.js": _NODE_MODULES / "mind-ar/dist/mindar-image-three.prod.js",
        "controller-mGt1s8dJ.js": _NODE_MODULES / "mind-ar/dist/controller-mGt1s8dJ.js",
        "ui-fBadYuor.js": _NODE_MODULES / "mind-ar/dist/ui-fBadYuor.js",
    },
    "viewer": {
        "viewer.js": _STATIC / "viewer.js",
        "viewer.css": _STATIC / "viewer.css",
    },
}
URL_PREFIX = "/viewer-assets"


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    version: str
    media_type: str
    body: bytes
    gzipped: bytes

    @property
    def url(self) -> str:
        return f"{URL_PREFIX}/{self.version}/{self.name}"


@dataclass(frozen=True, slots=True)
class ViewerAssets:
    by_name: dict[str, Asset]

    def find(self, version: str, name: str) -> Asset | None:
        """The asset `name` at `version`; None for anything not on the allow-list or an
        old version (so a stale URL is never answered with new bytes under an old hash)."""
        asset = self.by_name.get(name)
        return asset if asset is not None and asset.version == version else None

    def url(self, name: str) -> str:
        return self.by_name[name].url

    @property
    def modules(self) -> list[str]:
        """URLs of every script, for `<link rel="modulepreload">`."""
        return [a.url for a in self.by_name.values() if a.media_type == "text/javascript"]

    @property
    def import_map(self) -> str:
        """The page's import map: bare names the scripts import, mapped to hashed URLs."""
        imports = {
            "three": self.url("three.module.min.js"),
            "three/addons/renderers/CSS3DRenderer.js": self.url("CSS3DRenderer.js"),
            "mind-ar/image-three": self.url("mindar-image-three.prod.js"),
        }
        return json.dumps({"imports": imports}, separators=(",", ":"))

    @property
    def import_map_hash(self) -> str:
        """The CSP source that allows the inline import map and nothing else."""
        digest = hashlib.sha256(self.import_map.encode()).digest()
        return f"'sha256-{base64.b64encode(digest).decode()}'"


def _media_type(name: str) -> str:
    if name.endswith(".js"):
        return "text/javascript"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _load_group(files: dict[str, Path]) -> list[Asset]:
    bodies = {name: path.read_bytes() for name, path in files.items()}
    hasher = hashlib.sha256()
    for name, body in bodies.items():
        hasher.update(name.encode() + b"\0" + hashlib.sha256(body).digest())
    version = hasher.hexdigest()[:16]
    return [
        Asset(name, version, _media_type(name), body, gzip.compress(body, 9, mtime=0))
        for name, body in bodies.items()
    ]


@cache
def viewer_assets() -> ViewerAssets:
    """Read and compress every asset once per process."""
    assets = [asset for files in _GROUPS.values() for asset in _load_group(files)]
    return ViewerAssets({asset.name: asset for asset in assets})
