"""Storage keys: chosen by the server and deterministic, so a retry overwrites instead of duplicating."""

from __future__ import annotations

import mimetypes
import re
import uuid
from pathlib import Path

ORIGINALS = "originals"
RENDITIONS = "renditions"
HLS = "hls"
THUMBS = "thumbs"
IMAGES = "images"
# Pieces of a chunked encode, waiting to be joined (deleted after the join).
CHUNKS = "chunks"
AREAS = (ORIGINALS, RENDITIONS, HLS, THUMBS, IMAGES, CHUNKS)

# A file name inside an asset's area: server-made names only (letters, digits,
# dot, dash, underscore, up to two levels of folders: HLS variants, CMAF streams `video/720p-h264/`).
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*){0,2}$")

mimetypes.add_type("application/vnd.apple.mpegurl", ".m3u8")
mimetypes.add_type("application/dash+xml", ".mpd")
mimetypes.add_type("video/mp2t", ".ts")
mimetypes.add_type("text/vtt", ".vtt")
mimetypes.add_type("image/webp", ".webp")


def asset_key(area: str, asset_id: uuid.UUID | str, name: str) -> str:
    """`<area>/<asset-uuid>/<name>`, e.g. `hls/<uuid>/video/720p-h264/index.m3u8`."""
    if area not in AREAS or not _NAME.match(name) or ".." in name:
        raise ValueError(f"not a storage name: {area}/{name}")
    return f"{area}/{uuid.UUID(str(asset_id))}/{name}"


def original_key(asset_id: uuid.UUID | str) -> str:
    # No extension: the upload's name is not trusted, and the probe's verdict
    # lives on the Asset rather than in a key that would have to be renamed.
    return asset_key(ORIGINALS, asset_id, "source")


def asset_prefix(area: str, asset_id: uuid.UUID | str) -> str:
    return f"{area}/{uuid.UUID(str(asset_id))}/"


def tree_keys(directory: Path, area: str, asset_id: uuid.UUID | str) -> dict[Path, str]:
    """The key of every file under `directory`: `<area>/<asset>/<relative path>` (for upload_files)."""
    return {
        path: asset_key(area, asset_id, path.relative_to(directory).as_posix())
        for path in sorted(p for p in directory.rglob("*") if p.is_file())
    }


def content_type_for(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
