"""Chunked encoding of long sources: cut the picture into spans on the keyframe grid, encode
each span's ladder separately (on any worker), encode the sound once, then join the
pieces per rung by stream copy.

The spans are whole numbers of GOPs, so the keyframes land where a whole-file encode
puts them and the HLS segments of a chunked encode cut at the same instants.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import ffmpeg

from .exceptions import ProcessingError
from .probe import SAFE_INPUT_OPTIONS, MediaInfo, ffprobe_json
from .runner import QUIET_ARGS, run_ffmpeg
from .video import GOP_SECONDS, Span, rendition_output

# The concat demuxer reads a list of our own files.
_CONCAT_INPUT = {"f": "concat", "safe": 0, "protocol_whitelist": "file", "format_whitelist": "concat,mov,mp4"}


def plan_spans(duration: float, chunk_seconds: float, start_time: float = 0.0) -> list[Span]:
    """Spans of about `chunk_seconds` (rounded to whole GOPs) covering the picture; the last runs
    to the end, and a short tail is folded into the span before it."""
    length = max(GOP_SECONDS, round(chunk_seconds / GOP_SECONDS) * GOP_SECONDS)
    count = max(1, math.floor(duration / length))
    if duration - count * length > length / 2:
        count += 1
    return [
        Span(start=start_time + i * length, end=None if i == count - 1 else start_time + (i + 1) * length)
        for i in range(count)
    ]


def video_start_time(path: Path) -> float:
    """The picture's first timestamp: spans are cut on the source's own clock."""
    data = ffprobe_json(path, "-select_streams", "v:0", "-show_entries", "stream=start_time")
    streams = data.get("streams") or [{}]
    try:
        return float(streams[0].get("start_time") or 0.0)
    except ValueError:
        return 0.0


def encode_audio(src: Path, info: MediaInfo, kbps: int, out: Path, *, timeout: float | None = None) -> Path:
    """The sound, once, as AAC with the same settings as a whole-file encode (M4A)."""
    cmd = (
        ffmpeg.input(str(src), **SAFE_INPUT_OPTIONS)[str(info.audio_stream_index)]
        .output(str(out), **{"c:a": "aac", "b:a": f"{kbps}k", "ac": 2, "ar": 48000, "map_metadata": -1})
        .compile(cmd="ffmpeg")
    )
    cmd[1:1] = QUIET_ARGS
    run_ffmpeg(cmd, duration=info.duration, timeout=timeout, what="The sound")
    return out


def join(
    pieces: Sequence[Path],
    audio: Path | None,
    out: Path,
    *,
    hls_dir: Path | None = None,
    timeout: float | None = None,
) -> Path:
    """Join the encoded spans of one rung (and the sound) into one MP4 by stream copy, and with
    `hls_dir` into its HLS playlist from the same packets."""
    if not pieces:
        raise ProcessingError("No encoded chunks to join.")
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p.resolve()}'\n" for p in pieces))
    inputs = [ffmpeg.input(str(listing.resolve()), **_CONCAT_INPUT)["v:0"]]
    if audio is not None:
        inputs.append(ffmpeg.input(str(audio.resolve()), **SAFE_INPUT_OPTIONS)["a:0"])
    target, muxing = rendition_output(out, hls_dir, out.parent)
    cmd = ffmpeg.output(*inputs, target, c="copy", map_metadata=-1, **muxing).compile(cmd="ffmpeg")
    cmd[1:1] = QUIET_ARGS
    run_ffmpeg(cmd, timeout=timeout, what="Joining the chunks", cwd=out.parent)
    return out
