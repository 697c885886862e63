"""Objective quality of renditions: SSIM against the source scaled to the same size.

One ffmpeg run decodes the source, `split`s it, scales a copy to each rendition's size
and compares it with that rendition (ffmpeg's `ssim` filter,
https://ffmpeg.org/ffmpeg-filters.html#ssim). Decoding dominates the cost: a clip up to
a minute is measured in one pass on every third frame; a longer one in a few two-second
windows spread over it, so the cost stays bounded however long the video.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import ffmpeg

from .probe import SAFE_INPUT_OPTIONS, MediaInfo
from .renditions import VideoFile
from .runner import QUIET_ARGS, run_ffmpeg
from .video import MAX_FPS

WINDOW_S = 2.0
# Up to this long, one pass over the whole clip (every FULL_PASS_NTH frame) costs less than
# seeking into windows: a source with long GOPs is decoded from its previous keyframe.
FULL_PASS_MAX_S = 60.0
FULL_PASS_NTH = 3


def windows(duration: float | None, count: int) -> list[tuple[float, float | None]]:
    """(start, length) of `count` windows spread over a long clip; one (0, None) for a short one."""
    if not duration or duration <= FULL_PASS_MAX_S:
        return [(0.0, None)]
    return [(duration * (i + 1) / (count + 1) - WINDOW_S / 2, WINDOW_S) for i in range(count)]


def ssim_command(
    source: Path, info: MediaInfo, videos: Sequence[VideoFile], stats_dir: Path, window_count: int = 3
) -> list[str]:
    outputs = []
    for w, (start, length) in enumerate(windows(info.duration, window_count)):
        span = {"ss": start, "t": length} if length else {}
        src = ffmpeg.input(str(source), **SAFE_INPUT_OPTIONS, **span)[str(info.video_stream_index)]
        if (info.frame_rate or 30.0) > MAX_FPS:  # the renditions were made at MAX_FPS
            src = src.filter("fps", MAX_FPS)
        keep = f"not(mod(n,{FULL_PASS_NTH}))"  # ffmpeg-python escapes the comma
        if length is None:  # pick the frames before scaling: the others are never compared
            src = src.filter("select", keep)
        references = src.filter_multi_output("split", len(videos))
        for i, video in enumerate(videos):
            reference = references.stream(i).filter("scale", video.width, video.height, flags="bicubic")
            distorted = ffmpeg.input(str(video.path), **SAFE_INPUT_OPTIONS, **span)["v:0"]
            if length is None:
                distorted = distorted.filter("select", keep)
            reference = reference.filter("setsar", 1).filter("format", "yuv420p")
            distorted = distorted.filter("setsar", 1).filter("format", "yuv420p")
            stats = str(stats_dir / f"{video.name}.{w}.log")
            outputs.append(ffmpeg.filter([distorted, reference], "ssim", stats_file=stats).output("-", f="null"))
    cmd = ffmpeg.merge_outputs(*outputs).compile(cmd="ffmpeg")
    cmd[1:1] = QUIET_ARGS
    return cmd


def measure_ssim(
    source: Path,
    info: MediaInfo,
    videos: Sequence[VideoFile],
    workdir: Path,
    *,
    window_count: int = 3,
    timeout: float | None = None,
) -> dict[str, float]:
    """SSIM (All: Y, U, V weighted, 1.0 = identical) of each rendition over its frames, by name."""
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = ssim_command(source, info, videos, workdir, window_count)
    run_ffmpeg(cmd, timeout=timeout, what="The quality measurement")
    return {video.name: _mean_all(sorted(workdir.glob(f"{video.name}.*.log"))) for video in videos}


def _mean_all(stats: list[Path]) -> float:
    values = [
        float(field.split(":", 1)[1])
        for path in stats
        for line in path.read_text().splitlines()
        for field in line.split()
        if field.startswith("All:")
    ]
    if not values:
        raise ValueError(f"no SSIM figures in {[p.name for p in stats]}")
    return sum(values) / len(values)
