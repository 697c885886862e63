"""The owner's poster beyond the encode's frames: the frame at a moment they pick, or a picture
they upload. Both are checked here and made by a worker (processing.posters): ffmpeg and whole
decodes never run in a web request. The poster changes when the worker is done, in seconds."""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import IO

from django.conf import settings
from django.dispatch import Signal
from django.template.defaultfilters import filesizeformat
from PIL import Image, UnidentifiedImageError

from .. import storage
from ..models import Asset, Rendition
from ..processing.posters import CUSTOM_PREFIX
from .errors import ServiceError

logger = logging.getLogger(__name__)

# Sent when a poster is to be made (tasks.py publishes the worker's task): asset_id, and either
# `at` (seconds) or `key` (the stored upload). A publish that fails raises ServiceError (503).
poster_due = Signal()

# An uploaded poster: a picture, not a video's worth of bytes.
POSTER_UPLOAD_MAX_BYTES = 20 * 1024 * 1024
POSTER_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")


def upload_source_name(digest: str) -> str:
    """Where an uploaded poster waits for the worker: named by its content, so a retry overwrites."""
    return f"{CUSTOM_PREFIX}upload-{digest[:16]}.src"


def _video_with_result(asset_id: uuid.UUID | str, field: str) -> Asset:
    asset = Asset.objects.filter(pk=asset_id).first()
    if asset is None or asset.kind != Asset.Kind.VIDEO:
        raise ServiceError("Only a video has a poster to choose.", status=422, field=field)
    if not asset.renditions.filter(kind=Rendition.Kind.MP4).exists():
        raise ServiceError("The poster can be chosen once the video is ready.", code="not_ready", status=409)
    return asset


def asset_poster_at(*, asset_id: uuid.UUID | str, at: float) -> None:
    """Have a worker take the frame at `at` seconds and make it the poster."""
    asset = _video_with_result(asset_id, "poster_time")
    duration = float((asset.probe or {}).get("duration") or 0.0)
    if not 0 <= at <= duration:
        raise ServiceError(
            f"The time is {at:g} s; it must be between 0 and {duration:.1f} s (the video's length).",
            status=422,
            field="poster_time",
        )
    poster_due.send(sender=Asset, asset_id=asset.id, at=round(at, 3))
    logger.info("asset %s: the frame at %.3f s was asked for as its poster", asset.id, at)


def asset_poster_upload(*, asset_id: uuid.UUID | str, fileobj: IO[bytes], size_bytes: int) -> None:
    """Check an uploaded picture as uploaded images are checked (size, format, pixels), store it,
    and have a worker make it the poster (upright, sRGB, a JPEG no side over 1280)."""
    asset = _video_with_result(asset_id, "image")
    if size_bytes > POSTER_UPLOAD_MAX_BYTES:
        raise ServiceError(
            f"The picture is {filesizeformat(size_bytes)}; the limit is {filesizeformat(POSTER_UPLOAD_MAX_BYTES)}.",
            status=422,
            field="image",
        )
    _check_picture(fileobj)
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(1024 * 1024), b""):
        digest.update(chunk)
    key = storage.asset_key(storage.THUMBS, asset.id, upload_source_name(digest.hexdigest()))
    fileobj.seek(0)
    storage.save_stream(key, fileobj)
    try:
        poster_due.send(sender=Asset, asset_id=asset.id, key=key)
    except ServiceError:
        storage.delete_key(key)  # nobody will make it: not left behind
        raise


def _check_picture(fileobj: IO[bytes]) -> None:
    """The header only (format and size: cheap); the worker decodes the whole picture."""
    fileobj.seek(0)
    try:
        with Image.open(fileobj) as im:
            fmt, width, height = im.format, im.width, im.height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        fmt, width, height = None, 0, 0
    if fmt not in POSTER_FORMATS:
        raise ServiceError("The file is not a JPEG, PNG, WebP or GIF picture.", status=422, field="image")
    if width * height > settings.MEDIA_MAX_PIXELS:
        raise ServiceError(
            f"The picture is {width}×{height} pixels; the limit is {settings.MEDIA_MAX_PIXELS:,} pixels in all.",
            status=422,
            field="image",
        )
