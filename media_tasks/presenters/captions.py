"""Caption tracks as clients see them: in the asset's JSON and webhooks, and named by the HLS
master and the DASH manifest as they are served (the stored ones never name them, so a track
added or deleted needs no re-encode and no rewrite that could race one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..models import Asset, CaptionTrack, playlist_beside
from ..pipeline import dash as dash_ops
from ..pipeline import hls as hls_ops
from ..pipeline.identity import MASTER, MPD
from .links import playback_url

# The files served with the caption tracks named in them.
CAPTIONED = (MASTER, MPD)


def caption_name(track: CaptionTrack) -> str:
    """The track's WebVTT file under the playback link, beside the master (`captions/en-….vtt`)."""
    return track.storage_key.split("/", 2)[2]


def caption_data(*, asset: Asset, track: CaptionTrack, shared: bool = False) -> dict[str, Any]:
    """A track in the asset's JSON, with its WebVTT file's link (no cookie, like the master's)."""
    return {
        **caption_brief(track),
        "created_at": track.created_at,
        "url": playback_url(asset=asset, shared=shared, name=caption_name(track)),
    }


def caption_brief(track: CaptionTrack) -> dict[str, Any]:
    """A track in a webhook's payload."""
    return {"language": track.language, "label": track.display_label, "cues": track.cues}


def served_manifest(*, name: str, body: bytes, tracks: Sequence[CaptionTrack]) -> bytes:
    """The stored master or manifest `name` as a player gets it: naming `tracks`."""
    if not tracks or name not in CAPTIONED:
        return body
    if name == MASTER:
        subtitles = [
            hls_ops.SubtitleTrack(t.language, t.display_label, playlist_beside(caption_name(t))) for t in tracks
        ]
        return hls_ops.with_subtitles(body.decode(), subtitles).encode()
    texts = [dash_ops.TextTrack(t.language, t.display_label, caption_name(t)) for t in tracks]
    return dash_ops.with_text_tracks(body.decode(), texts).encode()
