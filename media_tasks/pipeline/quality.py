"""Objective quality of renditions: SSIM against the source scaled to the same size.

One ffmpeg run decodes the source once, `split`s it, scales a copy to each rendition's
size and compares it with that rendition frame by frame (ffmpeg's `ssim` filter,
https://ffmpeg.org/ffmpeg-filters.html#ssim). Every `every_nth` frame is compared, on
both sides alike, to keep it cheap next to the encode.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import ffmpeg

from .probe import SAFE_INPUT_OPTIONS, MediaInfo
from .runner import QUIET_ARGS, run_ffmpeg
from .video import MAX_FPS, VideoFile


def ssim_command(
    source: Path, info: MediaInfo, videos: Sequence[VideoFile], stats_dir: Path, every_nth: int = 1
) -> list[str]:
    src = ffmpeg.input(str(source), **SAFE_INPUT_OPTIONS)[str(info.video_stream_index)]
    if (info.frame_rate or 30.0) > MAX_FPS:  # the renditions were made at MAX_FPS
        src = src.filter("fps", MAX_FPS)
    references = src.filter_multi_output("split", len(videos))
    outputs = []
    for i, video in enumerate(videos):
        reference = references.stream(i).filter("scale", video.width, video.height, flags="bicubic")
        distorted = ffmpeg.input(str(video.path), **SAFE_INPUT_OPTIONS)["v:0"]
        if every_nth > 1:
            keep = f"not(mod(n,{every_nth}))"  # ffmpeg-python escapes the comma
            reference = reference.filter("select", keep)
            distorted = distorted.filter("select", keep)
        reference = reference.filter("setsar", 1).filter("format", "yuv420p")
        distorted = distorted.filter("setsar", 1).filter("format", "yuv420p")
        compared = ffmpeg.filter([distorted, reference], "ssim", stats_file=str(stats_dir / f"{video.name}.log"))
        outputs.append(compared.output("-", f="null"))
    cmd = ffmpeg.merge_outputs(*outputs).compile(cmd="ffmpeg")
    cmd[1:1] = QUIET_ARGS
    return cmd


def measure_ssim(
    source: Path,
    info: MediaInfo,
    videos: Sequence[VideoFile],
    workdir: Path,
    *,
    every_nth: int = 1,
    timeout: float | None = None,
) -> dict[str, float]:
    """SSIM (All: Y, U, V weighted, 1.0 = identical) of each rendition, by rendition name."""
    workdir.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(ssim_command(source, info, videos, workdir, every_nth), timeout=timeout, what="The quality measurement")
    return {video.name: _mean_all(workdir / f"{video.name}.log") for video in videos}


def _mean_all(stats: Path) -> float:
    values = [
        float(field.split(":", 1)[1])
        for line in stats.read_text().splitlines()
        for field in line.split()
        if field.startswith("All:")
    ]
    if not values:
        raise ValueError(f"no SSIM figures in {stats.name}")
    return sum(values) / len(values)
