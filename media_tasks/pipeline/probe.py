"""Find out what a file really is, from its content (never from its name)."""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ffmpeg._utils import convert_kwargs_to_cmd_line_args
from PIL import Image, UnidentifiedImageError

from .exceptions import MediaLimitError, UnsupportedMediaError

VIDEO = "video"
IMAGE = "image"
AUDIO = "audio"

# Demuxers ffprobe/ffmpeg may use on an upload. Playlists (hls), concat lists and
# image sequences (image2) are left out on purpose: they make ffmpeg open other
# files or URLs named inside the upload.
ALLOWED_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,ogg,asf,wav,mp3,aac,flac"
# ffmpeg only reads the local file we hand it: no http, no nested protocols.
PROTOCOL_WHITELIST = "file"
SAFE_INPUT_OPTIONS = {"protocol_whitelist": PROTOCOL_WHITELIST, "format_whitelist": ALLOWED_DEMUXERS}

# Still-image formats Pillow may decode. Anything else Pillow recognises falls
# through to ffprobe (Pillow also "recognises" a few video headers).
ALLOWED_IMAGE_FORMATS = {"JPEG", "MPO", "PNG", "GIF", "WEBP", "TIFF", "BMP"}
# EXIF orientations 5-8 swap width and height when applied.
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}

PROBE_TIMEOUT_S = 60


@dataclass(frozen=True)
class ProbeLimits:
    max_duration_s: float
    max_pixels: int
    max_frame_rate: float = 240


@dataclass(frozen=True)
class MediaInfo:
    """What the probe found. `width`/`height` are as displayed: after rotation and pixel aspect."""

    kind: str
    container: str
    width: int
    height: int
    duration: float | None = None
    rotation: int = 0
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    has_audio: bool = False
    video_stream_index: int | None = None
    audio_stream_index: int | None = None
    frames: int = 1
    # The picture's first timestamp: chunks are cut on the source's own clock (MPEG-TS
    # starts at 1.4 s). None in probes stored before it was recorded.
    start_time: float | None = None
    # A picture attached to the sound (an MP3's or M4A's cover art, in its tags), if any.
    cover_stream_index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaInfo:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)


def probe(path: Path, limits: ProbeLimits) -> MediaInfo:
    """Identify `path` as an image (Pillow), a video or a sound alone (ffprobe), or raise a readable error."""
    size = path.stat().st_size
    if size == 0:
        raise UnsupportedMediaError("The file is empty.")
    info = _probe_image(path) or _probe_av(path, limits.max_pixels)
    if info.width * info.height > limits.max_pixels:
        raise MediaLimitError(
            f"The picture is {info.width}×{info.height} pixels; the limit is {limits.max_pixels:,} pixels in all."
        )
    if info.frame_rate is not None and info.frame_rate > limits.max_frame_rate:
        raise MediaLimitError(
            f"The video has {info.frame_rate:g} frames per second; the limit is {limits.max_frame_rate:g}."
        )
    if info.duration is not None and info.duration > limits.max_duration_s:
        limit = _hms(limits.max_duration_s)
        raise MediaLimitError(f"The {info.kind} lasts {_hms(info.duration)}; the limit is {limit}.")
    return info


def _probe_image(path: Path) -> MediaInfo | None:
    try:
        # Image.open reads the header only: cheap, and no pixel is decoded here.
        with Image.open(path) as im:
            if im.format not in ALLOWED_IMAGE_FORMATS:
                return None
            width, height = im.size
            orientation = im.getexif().get(0x0112, 1)
            frames = getattr(im, "n_frames", 1)
            fmt = im.format
    except (UnidentifiedImageError, Image.DecompressionBombError):
        # A bomb is reported below by the pixel limit with a clearer message; Pillow
        # refuses to even open it, so read the size from the header ourselves.
        return _probe_oversized_image(path)
    except (OSError, SyntaxError, ValueError):
        return None
    if orientation in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    return MediaInfo(
        kind=IMAGE,
        container=fmt.lower(),
        width=width,
        height=height,
        frames=frames,
        rotation={3: 180, 6: 90, 8: 270}.get(orientation, 0),
    )


def _probe_oversized_image(path: Path) -> MediaInfo | None:
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(path) as im:
            if im.format not in ALLOWED_IMAGE_FORMATS:
                return None
            return MediaInfo(kind=IMAGE, container=im.format.lower(), width=im.width, height=im.height)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def safe_input_args(path: Path) -> list[str]:
    """ffmpeg's `-i path` behind the safe input options (the file protocol, the allowed demuxers)."""
    return [*convert_kwargs_to_cmd_line_args(SAFE_INPUT_OPTIONS), "-i", str(path)]


def ffprobe_json(path: Path, *extra: str, timeout: float = PROBE_TIMEOUT_S) -> dict[str, Any]:
    """Run ffprobe with the safe input options; raise UnsupportedMediaError if it cannot read the file.

    ffmpeg-python's own `probe()` has no timeout, so the command is built with its
    argument helper and run here.
    """
    args = ["ffprobe", "-v", "error", "-of", "json", *extra]
    args += convert_kwargs_to_cmd_line_args(SAFE_INPUT_OPTIONS)
    args.append(str(path))
    try:
        proc = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise UnsupportedMediaError("The file took too long to read; it may be damaged.") from exc
    if proc.returncode != 0:
        raise UnsupportedMediaError(
            "The file is not a video, sound or image we can read (its content is not a supported format)."
        )
    return json.loads(proc.stdout or b"{}")


def _probe_av(path: Path, max_pixels: int) -> MediaInfo:
    data = ffprobe_json(path, "-show_format", "-show_streams")
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    videos = [s for s in streams if s.get("codec_type") == "video" and not _attached(s)]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    if not videos:
        if audios:
            return _probe_sound(fmt, audios[0], streams, max_pixels)
        raise UnsupportedMediaError("The file has no video picture and no sound in it.")
    video = videos[0]
    audio = audios[0] if audios else None
    coded_w, coded_h = int(video.get("width") or 0), int(video.get("height") or 0)
    if coded_w <= 0 or coded_h <= 0:
        raise UnsupportedMediaError("The video has no readable picture size; it may be damaged.")
    duration = _first_float(fmt.get("duration"), video.get("duration"))
    if duration is None or duration <= 0:
        raise UnsupportedMediaError("The video has no readable duration; it may be damaged or cut short.")
    rotation = _rotation(video)
    frame_rate = _frame_rate(video)
    width, height = _display_size(coded_w, coded_h, video.get("sample_aspect_ratio"))
    if rotation in (90, 270):
        width, height = height, width
    return MediaInfo(
        kind=VIDEO,
        container=str(fmt.get("format_name", "")),
        width=width,
        height=height,
        duration=round(duration, 3),
        rotation=rotation,
        frame_rate=frame_rate,
        video_codec=video.get("codec_name"),
        audio_codec=audio.get("codec_name") if audio else None,
        has_audio=audio is not None,
        video_stream_index=int(video["index"]),
        audio_stream_index=int(audio["index"]) if audio else None,
        frames=int(video.get("nb_frames") or 0) or max(1, round(duration * (frame_rate or 1))),
        start_time=_first_float(video.get("start_time")) or 0.0,
    )


def _attached(stream: dict[str, Any]) -> bool:
    """A still stored as a stream (cover art): a tag of the sound, not a picture that moves."""
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _probe_sound(
    fmt: dict[str, Any], audio: dict[str, Any], streams: list[dict[str, Any]], max_pixels: int
) -> MediaInfo:
    """A sound alone (MP3, AAC/M4A, WAV, FLAC, Ogg Vorbis or Opus, …), with its cover art if tagged
    and no larger than `max_pixels` (a bigger one is left out, not decoded: the sound is what counts)."""
    duration = _first_float(fmt.get("duration"), audio.get("duration"))
    if duration is None or duration <= 0:
        raise UnsupportedMediaError("The sound has no readable duration; it may be damaged or cut short.")
    if not int(audio.get("channels") or 0) or not int(audio.get("sample_rate") or 0):
        raise UnsupportedMediaError("The sound has no readable channels or sample rate; it may be damaged.")
    cover = next((s for s in streams if s.get("codec_type") == "video" and _attached(s)), None)
    if cover and not 0 < int(cover.get("width") or 0) * int(cover.get("height") or 0) <= max_pixels:
        cover = None
    return MediaInfo(
        kind=AUDIO,
        container=str(fmt.get("format_name", "")),
        width=0,
        height=0,
        duration=round(duration, 3),
        audio_codec=audio.get("codec_name"),
        has_audio=True,
        audio_stream_index=int(audio["index"]),
        frames=0,
        start_time=_first_float(audio.get("start_time")) or 0.0,
        cover_stream_index=int(cover["index"]) if cover else None,
    )


def _first_float(*values: Any) -> float | None:
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            return number
    return None


def _rotation(stream: dict[str, Any]) -> int:
    """The display rotation in degrees (0, 90, 180, 270) as ffprobe reports it.

    Only whether it swaps width and height matters to us: ffmpeg turns the picture
    upright itself when it decodes (autorotate).
    """
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return round(float(side["rotation"])) % 360
    tag = (stream.get("tags") or {}).get("rotate")
    return int(tag) % 360 if tag else 0


def _display_size(width: int, height: int, sar: str | None) -> tuple[int, int]:
    """Apply the sample aspect ratio so anamorphic video keeps its shape."""
    try:
        ratio = Fraction(*map(int, sar.split(":"))) if sar else Fraction(1)
    except (ValueError, ZeroDivisionError):
        ratio = Fraction(1)
    if ratio <= 0 or ratio == 1:
        return width, height
    return max(2, round(width * ratio)), height


def _frame_rate(stream: dict[str, Any]) -> float | None:
    for key in ("avg_frame_rate", "r_frame_rate"):
        try:
            rate = Fraction(stream.get(key) or "0/0")
        except (ValueError, ZeroDivisionError):
            continue
        if rate > 0:  # 29.97 for 30000/1001 would put chunk cuts half a frame off in 4.6 hours
            return round(float(rate), 6)
    return None


def _hms(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
