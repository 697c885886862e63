"""Does an encode hold all of its source? A file cut short (an interrupted copy, a camera that lost
power) still declares its whole length: its MP4 index, or its AVI header's frame count, was written
first. ffmpeg encodes what it can decode and stops without an error, so the lengths are compared
here, and such a file fails with its reason instead of becoming a short rendition nobody asked for
(docs/media-truth.md)."""

from __future__ import annotations

from .exceptions import TruncatedMediaError
from .probe import MediaInfo

# What a complete file may lack at the end: a second (a last GOP that does not decode, sound that
# outlasts the picture by a little), or 2% of a long one.
TOLERANCE_S = 1.0
TOLERANCE_SHARE = 0.02


def declared_duration(info: MediaInfo) -> float | None:
    """How long the source says it is: its duration, or its frame count at its frame rate if that
    is longer. An AVI cut short loses its index (written last), and ffprobe then estimates the
    duration from the bytes that are left; the header still counts every frame."""
    lengths = [info.duration or 0.0]
    if info.frame_rate and info.frames > 1:
        lengths.append(info.frames / info.frame_rate)
    return max(lengths) or None


def require_complete(declared: float | None, decoded: float) -> None:
    """TruncatedMediaError if `decoded` (seconds of the encode) falls short of `declared` (the
    source's declared_duration) by more than the tolerance."""
    if not declared:
        return
    if declared - decoded > max(TOLERANCE_S, TOLERANCE_SHARE * declared):
        raise TruncatedMediaError(
            f"The file is cut short: it declares {declared:.1f} s but only {decoded:.1f} s could be decoded. "
            "Upload the complete file."
        )
