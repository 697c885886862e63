"""Today's muxed MP4s into the CMAF layout (identity.Stream), by stream copy: never re-encoded.

The old ladder stored every rung as a faststart MP4 holding its picture and the sound at the
rung's bitrate (128 kb/s at 720p and above, 96 below), and again as MPEG-TS from the same
packets. The new layout keeps each stream once: every rung's picture as one CMAF file, and the
sound once, taken from the largest rung's MP4. One ffmpeg reads every MP4 and writes them all
through the tee muxer, each output taking one stream (`select`).

Timing. A CMAF file has no edit list (the `cmaf` flag turns them off) and holds one track, so
when its samples play is in its decode times alone (tfdt, plus the signed composition offsets
of trun version 1, which `cmaf` also turns on). By default the MP4 muxer starts every file at
zero, which moves the sound (its first packet, the encoder's priming, is 21 ms before the
picture's first) later than the picture. `frag_discont` keeps each file's own times instead,
and every input is shifted by the same amount (`-itsoffset`), so that the earliest packet of
them all starts at or after zero: the picture and the sound keep the old files' relation. The
shift is a whole number of frames: ffmpeg puts a copied picture's start on its frame grid
(measured: 21 ms became 33 ms at 30 fps), which would move it against the sound.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .exceptions import ProcessingError
from .identity import Stream, audio_stream, video_stream
from .runner import QUIET_ARGS, run_ffmpeg

# The sound's bitrates of the old ladder (kb/s): a stream is named after the nearest one.
OLD_AUDIO_KBPS = (128, 96)
_FRAGMENTED = "movflags=+empty_moov+default_base_moof+cmaf+frag_discont"
# A picture: one fragment per keyframe. A sound: every packet is a keyframe, so ~2 s fragments.
VIDEO_SLAVE = f"f=mp4:onfail=abort:{_FRAGMENTED}+frag_keyframe"
AUDIO_SLAVE = f"f=mp4:onfail=abort:{_FRAGMENTED}:frag_duration=2000000"
PROBE_TIMEOUT_S = 60


@dataclass(frozen=True)
class Layout:
    """What remux_legacy wrote: each in `out_dir/<stream.single_file>`."""

    videos: list[Stream]
    audio: Stream | None


def remux_legacy(mp4s: dict[str, Path], out_dir: Path, *, timeout: float | None = None) -> Layout:
    """The old muxed MP4s (rung name -> file, largest first) as CMAF files under `out_dir`, by
    stream copy in one ffmpeg: each rung's picture as `video/<rung>-h264/<rung>-h264.mp4`, and
    the first file's sound, named by its bitrate (audio_stream(128)), as
    `audio/128k-aac/128k-aac.mp4`. ProcessingError if a file has no picture or ffmpeg fails."""
    if not mp4s:
        raise ValueError("no MP4 to repackage")
    probes = {name: _probe(path) for name, path in mp4s.items()}
    for name, probe in probes.items():
        if not probe.has_video:
            raise ProcessingError(f"The {name} rendition has no picture.")
    videos = [video_stream(name) for name in mp4s]
    first = next(iter(probes.values()))
    audio = audio_stream(nearest_kbps(first.audio_bps)) if first.audio_bps is not None else None
    outputs = [out_dir / s.single_file for s in [*videos, *([audio] if audio else [])]]
    for output in outputs:
        output.parent.mkdir(parents=True, exist_ok=True)
    shift = _shift(min(p.start for p in probes.values()), first.frame_s)
    cmd = ["ffmpeg", *QUIET_ARGS]
    for path in mp4s.values():
        cmd += ["-itsoffset", f"{shift:.6f}", "-i", str(path.absolute())]
    cmd += [arg for i in range(len(mp4s)) for arg in ("-map", f"{i}:v:0")]
    cmd += ["-map", "0:a:0"] if audio else []
    spec = tee_spec([str(o) for o in outputs], with_audio=audio is not None)
    cmd += ["-c", "copy", "-map_metadata", "-1", "-f", "tee", spec]
    run_ffmpeg(cmd, timeout=timeout, what="The rendition")
    for output in outputs:
        if not output.is_file() or output.stat().st_size == 0:
            raise ProcessingError(f"{output.name} was not written.")
    return Layout(videos=videos, audio=audio)


def _shift(start: float, frame_s: float) -> float:
    """How much later every input starts so that nothing starts before zero: `-start`, rounded
    up to whole frames of `frame_s`."""
    if start >= 0:
        return 0.0
    return math.ceil(-start / frame_s - 1e-6) * frame_s


def tee_spec(outputs: Sequence[str], *, with_audio: bool) -> str:
    """One slave per output, selecting the output stream of its index: the pictures, then the
    sound last (if any). Absolute paths from the caller, checked for the tee's special characters."""
    slaves = []
    for i, output in enumerate(outputs):
        if any(c in output for c in "[]|:\\'\""):
            raise ValueError(f"unsafe name for the tee muxer: {output!r}")
        is_audio = with_audio and i == len(outputs) - 1
        slaves.append(f"[{AUDIO_SLAVE if is_audio else VIDEO_SLAVE}:select={i}]{output}")
    return "|".join(slaves)


def nearest_kbps(bps: float) -> int:
    """The old ladder's bitrate a measured sound is: the nearest on a ratio scale (an AAC encoder
    stays under its target on simple sound: 128 kb/s measured 112 on a tone, 96 measured 96)."""
    return min(OLD_AUDIO_KBPS, key=lambda kbps: abs(math.log(bps / 1000 / kbps)) if bps > 0 else kbps)


@dataclass(frozen=True)
class _Probe:
    has_video: bool
    audio_bps: float | None  # the sound's bitrate, None without sound
    start: float  # the earliest presentation time of its packets (s): the sound's priming is before zero
    frame_s: float  # the picture's frame duration (s)


def _probe(path: Path) -> _Probe:
    """The streams, the sound's bitrate and when the first packets play (the index and the
    first second only)."""
    args = ["ffprobe", "-v", "error", "-of", "json", "-read_intervals", "%+1"]
    args += ["-show_entries", "stream=codec_type,bit_rate,avg_frame_rate:packet=pts_time", str(path)]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=True)
        data = json.loads(done.stdout)
    except (subprocess.SubprocessError, ValueError) as exc:
        raise ProcessingError(f"{path.name} is not an MP4 we can read.") from exc
    streams = data.get("streams", [])
    sound = next((s for s in streams if s.get("codec_type") == "audio"), None)
    picture = next((s for s in streams if s.get("codec_type") == "video"), {})
    times = [float(p["pts_time"]) for p in data.get("packets", []) if p.get("pts_time") not in (None, "N/A")]
    return _Probe(
        has_video=bool(picture),
        audio_bps=float(sound.get("bit_rate") or 128_000) if sound else None,
        start=min(times, default=0.0),
        frame_s=_frame_s(picture.get("avg_frame_rate", "")),
    )


def _frame_s(rate: str) -> float:
    """Seconds per frame of an ffprobe rate ("30/1"); a 30 fps frame where it says nothing."""
    num, _, den = rate.partition("/")
    try:
        return float(den or 1) / float(num) if float(num) > 0 else 1 / 30
    except ValueError:
        return 1 / 30
