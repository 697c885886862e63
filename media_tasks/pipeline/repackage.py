"""Today's muxed MP4s into the CMAF layout (identity.Stream), by stream copy: never re-encoded.

The old ladder stored every rung as a faststart MP4 holding its picture and the sound at the
rung's bitrate (128 kb/s at 720p and above, 96 below), and again as MPEG-TS from the same
packets. The new layout keeps each stream once: every rung's picture as one CMAF file, and the
sound once, taken from the largest rung's MP4. One ffmpeg reads every MP4 and writes them all
through the tee muxer, each output taking one stream (`select`).

Timing. The CMAF files carry no edit list (the `cmaf` flag turns them off), and each holds one
track, so the relation between the picture and the sound is in their decode times alone. ffmpeg
starts a copied picture's decode times at zero (its first picture then shows two B-frame delays
later), while the sound's first packet (the encoder's priming) sits before zero: with the MP4
muxer's defaults the sound came out 45 ms early against the picture (measured), where the old
files had them in step. So `frag_discont` keeps each file's own times (its first fragment's
tfdt) and the sound's input is shifted (`-itsoffset`) by the picture's delay, keeping the old
relation, and everything later so that nothing starts before zero.
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
        if probe.video_dts is None:
            raise ProcessingError(f"The {name} rendition has no picture.")
    videos = [video_stream(name) for name in mp4s]
    first_name, first = next(iter(probes.items()))
    audio = audio_stream(nearest_kbps(first.audio_bps)) if first.audio_bps is not None else None
    outputs = [out_dir / s.single_file for s in [*videos, *([audio] if audio else [])]]
    for output in outputs:
        output.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["ffmpeg", *QUIET_ARGS, *_inputs(mp4s, first_name, first if audio else None)]
    cmd += [arg for i in range(len(mp4s)) for arg in ("-map", f"{i}:v:0")]
    cmd += ["-map", f"{len(mp4s)}:a:0"] if audio else []
    cmd += [
        "-c",
        "copy",
        "-map_metadata",
        "-1",
        "-f",
        "tee",
        tee_spec([str(o) for o in outputs], with_audio=bool(audio)),
    ]
    run_ffmpeg(cmd, timeout=timeout, what="The rendition")
    for output in outputs:
        if not output.is_file() or output.stat().st_size == 0:
            raise ProcessingError(f"{output.name} was not written.")
    return Layout(videos=videos, audio=audio)


def _inputs(mp4s: dict[str, Path], first_name: str, sound: _Probe | None) -> list[str]:
    """Every MP4 as an input for its picture, then the first one again for its sound, shifted so
    that picture and sound keep the old files' relation (see the module's docstring): a picture
    comes out starting at its B-frame delay (`-video_dts`), so the sound moves by as much."""
    delay = max(0.0, -(sound.video_dts or 0.0)) if sound else 0.0
    early = max(0.0, -(sound.audio_pts or 0.0) - delay) if sound else 0.0  # still before zero
    args = [arg for path in mp4s.values() for arg in ("-itsoffset", f"{early:.6f}", "-i", str(path.absolute()))]
    if sound is not None:
        args += ["-itsoffset", f"{early + delay:.6f}", "-i", str(mp4s[first_name].absolute())]
    return args


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
    video_dts: float | None  # the picture's first decode time (s), None without a picture
    audio_bps: float | None  # the sound's bitrate, None without sound
    audio_pts: float | None = None  # the sound's first presentation time (s)


def _probe(path: Path) -> _Probe:
    """The first packets' times and the sound's bitrate (the index and the first second only)."""
    args = ["ffprobe", "-v", "error", "-of", "json", "-read_intervals", "%+1"]
    args += ["-show_entries", "stream=codec_type,bit_rate:packet=stream_index,dts_time,pts_time", str(path)]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=True)
        data = json.loads(done.stdout)
    except (subprocess.SubprocessError, ValueError) as exc:
        raise ProcessingError(f"{path.name} is not an MP4 we can read.") from exc
    streams = data.get("streams", [])
    kinds = [s.get("codec_type") for s in streams]
    sound = next((s for s in streams if s.get("codec_type") == "audio"), None)
    return _Probe(
        video_dts=_first(data, kinds.index("video"), "dts_time") if "video" in kinds else None,
        audio_bps=float(sound.get("bit_rate") or 128_000) if sound else None,
        audio_pts=_first(data, kinds.index("audio"), "pts_time") if sound else None,
    )


def _first(data: dict, stream: int, field: str) -> float:
    """A time of the first packet of `stream` that ffprobe read (0 where it has none)."""
    value = next((p.get(field) for p in data.get("packets", []) if p.get("stream_index") == stream), None)
    return float(value) if value not in (None, "N/A") else 0.0
