"""Loudness (ITU-R BS.1770 / EBU R128: ffmpeg's `ebur128`) of a source's sound, and the sound
encoded again at a target loudness.

The level is evened out the way streaming services do it: one gain for the whole sound, so that
nothing inside it is compressed, quiet passages and pauses included (a dynamic normaliser such as
`loudnorm` raises every pause towards the target: room noise becomes hiss). Peaks that the gain
pushes over the ceiling are caught by a limiter at four times the sample rate, where true peaks
are seen. A limiter that bites takes loudness with it, so the result is measured and, when it
falls short, encoded once more with the shortfall added.

The sound is measured as the renditions carry it: downmixed to stereo at 48 kHz.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ffmpeg._utils import convert_kwargs_to_cmd_line_args

from .exceptions import ProcessingError
from .identity import Stream
from .integrity import declared_duration
from .probe import MediaInfo, safe_input_args
from .runner import QUIET_ARGS, ProgressCallback, run_ffmpeg
from .tee import cmaf_tee
from .video import AAC_OPTIONS, AUDIO_KBPS

# What the renditions promise: integrated loudness within 1 LU of the target, and true peaks at or
# below CEILING_DBTP (EBU R128 s1's -1 dBTP for lossy delivery).
CEILING_DBTP = -1.0
# Within this of the target, with peaks under the ceiling, the sound is kept as it was encoded.
CLOSE_ENOUGH_LU = 0.5
# The limiter's ceiling, below CEILING_DBTP: AAC's own overshoot added 0.2 to 1.2 dB to a
# hard-limited clicking tone (ebur128 after the encode). Where it adds more, the second pass
# lowers the limit by the excess and PEAK_MARGIN_DB.
LIMIT_DBTP = -2.0
PEAK_MARGIN_DB = 0.5
OVERSAMPLED_RATE = 192000
# Below this integrated loudness the sound is near-silence (room tone, a muted camera): raised to
# the target it would be noise, so it keeps its level. A quiet voice (-40 LUFS) is well above it.
NEAR_SILENCE_LUFS = -50.0

_STEREO = "aformat=sample_rates=48000:channel_layouts=stereo"
_SUMMARY = {
    "integrated_lufs": re.compile(r"^\s*I:\s*(-?[\d.]+|-inf)\s*LUFS", re.M),
    "true_peak_dbtp": re.compile(r"^\s*Peak:\s*(-?[\d.]+|-inf)\s*dBFS", re.M),
}


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    true_peak_dbtp: float


@dataclass(frozen=True)
class Plan:
    """What is done to the sound: `gain_db` for all of it, the limiter on (`limit`) or off;
    `encode` False keeps the sound as it was first encoded. `note` says why, for people."""

    gain_db: float
    limit: bool
    encode: bool
    note: str
    limit_dbtp: float = LIMIT_DBTP


def measure(
    path: Path,
    info: MediaInfo | None = None,
    *,
    timeout: float | None = None,
    niceness: int = 0,
    on_progress: ProgressCallback | None = None,
) -> Loudness:
    """Integrated loudness and true peak of the sound of `path` (its first audio stream, or
    `info`'s), as the renditions carry it. `on_progress` may stop it by raising."""
    stream = f"0:{info.audio_stream_index}" if info and info.audio_stream_index is not None else "0:a:0"
    cmd = [
        *("ffmpeg", *QUIET_ARGS[:2], "-loglevel", "info", "-y"),
        *safe_input_args(path),
        *("-map", stream, "-af", f"{_STEREO},ebur128=peak=true:framelog=verbose", "-f", "null", "-"),
    ]
    length = info.duration if info else None
    log = run_ffmpeg(
        cmd, duration=length, on_progress=on_progress, timeout=timeout, niceness=niceness, what="The sound"
    )
    return parse_summary(log)


def parse_summary(log: str) -> Loudness:
    """The figures of ebur128's closing summary in an ffmpeg log."""
    found = {}
    for name, pattern in _SUMMARY.items():
        matches = pattern.findall(log)
        if not matches:
            raise ProcessingError("The sound's loudness could not be measured (no ebur128 summary).")
        found[name] = -70.0 if matches[-1] == "-inf" else float(matches[-1])
    return Loudness(**found)


def plan(measured: Loudness, target_lufs: float | None) -> Plan:
    """The gain and limiter that bring `measured` to `target_lufs` (None: the source's level)."""
    if target_lufs is None:
        return Plan(0.0, False, False, "loudness normalisation is off: the source's level")
    if measured.integrated_lufs < NEAR_SILENCE_LUFS:
        note = f"near-silence ({measured.integrated_lufs:g} LUFS): kept at its level, not raised into noise"
        return Plan(0.0, False, False, note)
    gain = round(target_lufs - measured.integrated_lufs, 2)
    peak = measured.true_peak_dbtp + gain
    if abs(gain) <= CLOSE_ENOUGH_LU and peak <= CEILING_DBTP:
        return Plan(0.0, False, False, f"already at {measured.integrated_lufs:g} LUFS: kept as encoded")
    limit = peak > LIMIT_DBTP
    note = f"{gain:+g} dB" + (f", peaks limited to {LIMIT_DBTP:g} dBTP" if limit else "")
    return Plan(gain, limit, True, note)


def corrected(first: Plan, result: Loudness, target_lufs: float) -> Plan | None:
    """A second plan where the first one's result missed: more gain where a biting limiter took it
    more than half a LU under the target, a lower limit where the AAC encode's overshoot put its
    peaks over the ceiling. None where the result stands."""
    short = target_lufs - result.integrated_lufs
    over = result.true_peak_dbtp - CEILING_DBTP
    if not first.encode or (short <= CLOSE_ENOUGH_LU and over <= 0):
        return None
    gain = round(first.gain_db + max(short, 0.0), 2)
    limit = round(first.limit_dbtp - (over + PEAK_MARGIN_DB if over > 0 else 0.0), 2)
    return Plan(gain, True, True, f"{gain:+g} dB, peaks limited to {limit:g} dBTP (a second pass)", limit)


def sound_filter(chosen: Plan) -> str:
    """The filter chain from the source's sound to the encoder's input under `chosen`."""
    # Starts with the picture, padded with silence if the source's starts later, as the ladder's sound.
    steps = ["aresample=first_pts=0", _STEREO, f"volume={chosen.gain_db:g}dB"]
    if chosen.limit:
        limit = 10 ** (chosen.limit_dbtp / 20)
        steps += [
            f"aresample={OVERSAMPLED_RATE}",
            # latency: the limiter's look-ahead is taken back out, so the sound stays on the picture.
            f"alimiter=limit={limit:.4f}:level=0:latency=1:attack=1:release=100",
            "aresample=48000",
        ]
    return ",".join(steps)


def encode_sound(
    src: Path,
    info: MediaInfo,
    stream: Stream,
    out_dir: Path,
    chosen: Plan,
    *,
    on_progress: ProgressCallback | None = None,
    timeout: float | None = None,
    niceness: int = 0,
) -> None:
    """The sound of `src` under `chosen`, written as the ladder writes its sound (`stream`,
    segmented) under `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    length = declared_duration(info)
    cmd = [
        *("ffmpeg", *QUIET_ARGS),
        *safe_input_args(src.absolute()),
        *("-map", f"0:{info.audio_stream_index}", "-af", sound_filter(chosen)),
        *_aac_args(),
        *(["-t", f"{length:.6f}"] if length else []),
        *("-map_metadata", "-1", "-flags:a", "+global_header", "-f", "tee", cmaf_tee([], stream, out_dir, [stream])),
    ]
    run_ffmpeg(cmd, duration=length, on_progress=on_progress, timeout=timeout, cwd=out_dir, niceness=niceness)


def _aac_args() -> list[str]:
    return convert_kwargs_to_cmd_line_args({"b:a": f"{AUDIO_KBPS}k", **AAC_OPTIONS})
