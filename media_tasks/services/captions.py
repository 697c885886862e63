"""Caption tracks: the owner's SRT or WebVTT files, checked (pipeline.captions) and stored as
WebVTT beside the video's streams, one per language, each behind its own one-segment playlist.
Nothing is re-encoded: the master and the manifest name the tracks as they are served
(presenters.captions), so a track added or deleted shows at the player's next load."""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
from typing import IO

from django.db import transaction
from django.template.defaultfilters import filesizeformat

from .. import storage
from ..models import Asset, CaptionTrack, playlist_beside
from ..pipeline import captions as caption_ops
from ..pipeline import hls as hls_ops
from ..pipeline.exceptions import InvalidCaptions, MediaLimitError
from .errors import ServiceError

logger = logging.getLogger(__name__)
LABEL_MAX = 100


def caption_files(track: CaptionTrack) -> tuple[str, str]:
    """(the WebVTT file's key, its playlist's key): the playlist sits beside it, named alike."""
    return track.storage_key, track.playlist_key


def caption_track_add(
    *, asset_id: uuid.UUID | str, language: str, label: str, fileobj: IO[bytes], size_bytes: int
) -> CaptionTrack:
    """Check the file and the language, store the track (a track of that language already there is
    replaced), then write its row: a refused file stores nothing, and a row never names a missing file."""
    asset = _video(asset_id)
    limit = caption_ops.MAX_CAPTION_BYTES
    if size_bytes > limit:
        message = f"The caption file is {filesizeformat(size_bytes)}; the limit is {filesizeformat(limit)}."
        raise ServiceError(message, code="invalid_captions", status=422, field="file")
    try:
        tag = caption_ops.language_tag(language)
    except InvalidCaptions as exc:
        raise ServiceError(str(exc), code="invalid_language", status=422, field="language") from exc
    fileobj.seek(0)
    try:
        captions = caption_ops.to_webvtt(fileobj.read(limit + 1))
    except (InvalidCaptions, MediaLimitError) as exc:
        raise ServiceError(str(exc), code="invalid_captions", status=422, field="file") from exc
    vtt = captions.vtt.encode()
    # Named by its content: a retried upload overwrites its own files, and the row of a track being
    # replaced keeps naming the old files, whole, until it is switched to the new ones.
    name = f"{tag}-{hashlib.sha256(vtt).hexdigest()[:12]}"
    vtt_key = storage.asset_key(storage.HLS, asset.id, f"captions/{name}.vtt")
    duration = max(float((asset.probe or {}).get("duration") or 0.0), captions.end_s)
    storage.save_stream(vtt_key, io.BytesIO(vtt))
    playlist = hls_ops.subtitles_playlist(f"{name}.vtt", duration).encode()
    storage.save_stream(playlist_beside(vtt_key), io.BytesIO(playlist))
    fields = {"label": " ".join(label.split())[:LABEL_MAX], "storage_key": vtt_key, "cues": captions.cues}
    with transaction.atomic():
        old = CaptionTrack.objects.select_for_update().filter(asset=asset, language=tag).first()
        track, _ = CaptionTrack.objects.update_or_create(
            asset=asset, language=tag, defaults={**fields, "size_bytes": len(vtt)}
        )
    if old is not None and old.storage_key != vtt_key:
        _delete_files(old)
    logger.info("asset %s: caption track %s stored (%d cues)", asset.id, tag, captions.cues)
    return track


def caption_track_delete(*, asset_id: uuid.UUID | str, language: str) -> None:
    """The row first, so that no player is offered the track, then its files."""
    with transaction.atomic():
        track = CaptionTrack.objects.select_for_update().filter(asset_id=asset_id, language=language).first()
        if track is None:
            raise ServiceError(f"This video has no caption track in '{language[:40]}'.", code="not_found", status=404)
        track.delete()
    _delete_files(track)


def _delete_files(track: CaptionTrack) -> None:
    # The row is gone already and no player is offered them: files left by an outage are only
    # bytes, deleted with the asset.
    try:
        for key in caption_files(track):
            storage.delete_key(key)
    except storage.StorageUnavailable as exc:
        logger.warning("asset %s: caption files of %s left behind: %s", track.asset_id, track.language, exc)


def _video(asset_id: uuid.UUID | str) -> Asset:
    asset = Asset.objects.filter(pk=asset_id).first()
    if asset is None:
        raise ServiceError("No such asset.", code="not_found", status=404)
    if asset.kind == Asset.Kind.IMAGE:
        raise ServiceError("Only a video or a sound has caption tracks.", code="not_a_video", status=422)
    if asset.kind not in (Asset.Kind.VIDEO, Asset.Kind.AUDIO):
        raise ServiceError(
            "Caption tracks can be added once the file is known to be a video or a sound (seconds after upload).",
            code="not_ready",
            status=409,
        )
    return asset
