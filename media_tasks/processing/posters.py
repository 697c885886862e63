"""The owner's poster, made by a worker: the frame at the moment they picked, or the picture they
uploaded (services.posters checked and queued it). Not a stage of a job: the video is ready and
stays so; the poster rendition is repointed once the new file is stored, as choosing a frame does."""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from .. import storage
from ..models import Asset, Rendition
from ..pipeline import thumbnails as thumbnail_ops
from ..pipeline.exceptions import PipelineError
from ..pipeline.probe import MediaInfo
from .runtime import media_info
from .streams import rendition_fetch

logger = logging.getLogger(__name__)

# The owner's posters under thumbs/<asset>/, named so that a retry overwrites: the picked frame by
# its time in milliseconds, an upload by its content (services.posters).
CUSTOM_PREFIX = "poster-"


def poster_at_name(at: float) -> str:
    return f"{CUSTOM_PREFIX}at-{round(at * 1000)}ms.jpg"


def asset_poster_from_time(*, asset_id: uuid.UUID | str, at: float, worker: str = "") -> bool:
    """The frame at `at` seconds, taken from the smallest rendition big enough for a poster, made
    the poster. False (logged) if the asset is gone or the frame cannot be taken."""
    asset = Asset.objects.filter(pk=asset_id).first()
    if asset is None:
        logger.info("asset %s: no poster taken, the asset was deleted", asset_id)
        return False
    with tempfile.TemporaryDirectory(prefix=f"poster-{asset.id}-", dir=_work_dir()) as scratch:
        source, info = _poster_source(asset, Path(scratch))
        if source is None:
            logger.info("asset %s: no poster taken, it has no renditions", asset.id)
            return False
        try:
            image = thumbnail_ops.grab_frame_at(source, info, at, Path(scratch) / poster_at_name(at))
        except PipelineError as exc:
            logger.warning("asset %s: the frame at %.3f s could not be taken: %s", asset.id, at, exc)
            return False
        _make_poster(asset, image, worker)
    return True


def asset_poster_from_upload(*, asset_id: uuid.UUID | str, key: str, worker: str = "") -> bool:
    """The uploaded picture stored at `key` (removed after) made the poster; False (logged) if it
    cannot be decoded or the asset is gone."""
    asset = Asset.objects.filter(pk=asset_id).first()
    if asset is None:
        logger.info("asset %s: no poster made, the asset was deleted", asset_id)
        return False
    name = Path(key).name
    with tempfile.TemporaryDirectory(prefix=f"poster-{asset.id}-", dir=_work_dir()) as scratch:
        src = Path(scratch) / name
        storage.download_file(key, src)
        try:
            image = thumbnail_ops.poster_from_image(src, src.with_suffix(".jpg"), max_pixels=settings.MEDIA_MAX_PIXELS)
        except PipelineError as exc:
            logger.warning("asset %s: the uploaded poster could not be used: %s", asset.id, exc)
            storage.delete_key(key)
            return False
        _make_poster(asset, image, worker)
    storage.delete_key(key)
    return True


def _work_dir() -> str:
    path = Path(settings.MEDIA_WORK_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def _poster_source(asset: Asset, scratch: Path) -> tuple[Path | None, MediaInfo]:
    """The smallest MP4 rendition at least as large as a poster (they are upright already)."""
    info = media_info(asset)
    renditions = sorted(asset.renditions.filter(kind=Rendition.Kind.MP4), key=lambda r: r.width * r.height)
    if not renditions:
        return None, info
    width, height = thumbnail_ops.poster_size(info.width, info.height)
    chosen = next((r for r in renditions if r.width >= width and r.height >= height), renditions[-1])
    path = rendition_fetch(chosen, scratch / f"{chosen.profile}.mp4")
    return path, dataclasses.replace(info, width=chosen.width, height=chosen.height, rotation=0, video_stream_index=0)


def _make_poster(asset: Asset, image: thumbnail_ops.ImageFile, worker: str) -> None:
    """Store the file, point the poster at it, then remove the owner's previous one (a row never
    points at a missing file)."""
    key = storage.asset_key(storage.THUMBS, asset.id, image.path.name)
    storage.upload_file(image.path, key)
    posters = Rendition.objects.filter(asset=asset, kind=Rendition.Kind.POSTER)
    previous = posters.values_list("storage_key", flat=True).first()
    Rendition.objects.update_or_create(
        asset=asset,
        kind=Rendition.Kind.POSTER,
        profile="poster",
        defaults={
            "storage_key": key,
            "width": image.width,
            "height": image.height,
            "size_bytes": image.size_bytes,
            "codec": "jpeg",
            "worker_hostname": worker,
        },
    )
    Asset.objects.filter(pk=asset.pk).update(updated_at=timezone.now())  # My media's ETag moves
    poster_file_discard(previous=previous, now=key)
    logger.info("asset %s: the poster is now %s", asset.id, key)


def poster_file_discard(*, previous: str | None, now: str) -> None:
    """Once the poster row points at `now`: delete the owner's own poster file it pointed at
    before (the encode's frames stay: they are the chooser's candidates)."""
    if previous and previous != now and Path(previous).name.startswith(CUSTOM_PREFIX):
        storage.delete_key(previous)
