"""The renditions an encode wrote, measured from their own MP4 index (mp4.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import mp4
from .exceptions import ProcessingError

# ffmpeg's codec names for the MP4 sample entries we write.
_CODEC_NAMES = {"avc1": "h264", "avc3": "h264", "mp4a": "aac"}


@dataclass(frozen=True)
class VideoFile:
    """One encoded output, measured after the encode."""

    name: str
    path: Path
    width: int
    height: int
    duration: float
    bitrate: int
    size_bytes: int
    video_codec: str
    audio_codec: str | None
    codecs: str  # RFC 6381 string for HLS, e.g. "avc1.64001f,mp4a.40.2"


def require_written(name: str, path: Path) -> None:
    """ProcessingError unless the `name` rendition's file exists and is not empty."""
    if not path.exists() or path.stat().st_size == 0:
        raise ProcessingError(f"The {name} rendition was not written.")


def describe_videos(paths: dict[str, Path]) -> list[VideoFile]:
    """describe_video for each of `paths` (name → file), in order."""
    return [describe_video(name, path) for name, path in paths.items()]


def describe_video(name: str, path: Path) -> VideoFile:
    """Measure an output we made (dimensions, bitrate, codecs) from its MP4 index (mp4.py: in
    this process, where an ffprobe per file cost a 2-core worker 0.2 s per ladder)."""
    require_written(name, path)
    movie = mp4.read_movie(path)
    video = movie.track("vide")
    audio = movie.track("soun")
    if video is None:
        raise ProcessingError(f"The {name} rendition has no picture.")
    size = path.stat().st_size
    return VideoFile(
        name=name,
        path=path,
        width=video.width,
        height=video.height,
        duration=movie.duration,
        bitrate=int(size * 8 / movie.duration) if movie.duration else 0,  # as ffprobe counts it
        size_bytes=size,
        video_codec=_CODEC_NAMES.get(video.entry, video.entry),
        audio_codec=_CODEC_NAMES.get(audio.entry, audio.entry) if audio else None,
        # Our sound is always AAC-LC (object type 2), the only AAC the ladder's encoder writes.
        codecs=",".join([video.codec, *(["mp4a.40.2"] if audio else [])]),
    )
