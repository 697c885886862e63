"""Objective quality of renditions against their source: SSIM (ffmpeg's `ssim` filter, at the
rendition's size) and VMAF (libvmaf's model v0.6.1, the rendition scaled up to the source's display
size, as a viewer's player shows it).

One ffmpeg run decodes the source, `split`s it and compares a copy with each rendition. Decoding
dominates the cost: a clip up to a minute is measured in one pass on every third frame; a longer
one in a few two-second windows spread over it, so the cost stays bounded however long the video.

Debian 12's ffmpeg has no libvmaf: VMAF runs in the static ffmpeg of the pinned imageio-ffmpeg
wheel (requirements.txt), found by `vmaf_ffmpeg`. Its own `IMAGEIO_FFMPEG_EXE` names another.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ffmpeg
import imageio_ffmpeg

from .exceptions import ProcessingError
from .probe import SAFE_INPUT_OPTIONS, MediaInfo
from .renditions import VideoFile
from .runner import QUIET_ARGS, ProgressCallback, run_ffmpeg
from .video import MAX_FPS

WINDOW_S = 2.0
# Up to this long, one pass over the whole clip (every FULL_PASS_NTH frame) costs less than
# seeking into windows: a source with long GOPs is decoded from its previous keyframe.
FULL_PASS_MAX_S = 60.0
FULL_PASS_NTH = 3
# https://github.com/Netflix/vmaf/blob/master/resource/doc/models.md: v0.6.1 is the model for a
# 1080p screen at three times its height, the one the industry quotes.
VMAF_MODEL = "version=vmaf_v0.6.1"

# (rendition's picture, source's picture, stats file, score every nth frame) → the filter comparing them.
Compare = Callable[[Any, Any, Path, int], Any]


def vmaf_ffmpeg() -> str:
    """The ffmpeg that has libvmaf."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def windows(duration: float | None, count: int) -> list[tuple[float, float | None]]:
    """(start, length) of `count` windows spread over a long clip; one (0, None) for a short one."""
    if not duration or duration <= FULL_PASS_MAX_S:
        return [(0.0, None)]
    return [(duration * (i + 1) / (count + 1) - WINDOW_S / 2, WINDOW_S) for i in range(count)]


def _ssim(distorted: Any, reference: Any, stats: Path, nth: int) -> Any:
    return ffmpeg.filter([distorted, reference], "ssim", stats_file=str(stats))  # given every nth frame only


def _vmaf(distorted: Any, reference: Any, stats: Path, nth: int) -> Any:
    # libvmaf is given every frame and scores every nth itself: its motion feature compares
    # consecutive frames, and frames 3 apart doubled it and lifted VMAF by 2.5 on a noisy clip.
    return ffmpeg.filter(
        [distorted, reference],
        "libvmaf",
        model=VMAF_MODEL,
        log_fmt="json",
        log_path=str(stats),
        n_threads=2,
        n_subsample=nth,
    )


def compare_command(
    source: Path,
    info: MediaInfo,
    videos: Sequence[VideoFile],
    stats_dir: Path,
    *,
    window_count: int = 3,
    at_source_size: bool = False,
    compare: Compare = _ssim,
    nth: int = FULL_PASS_NTH,
) -> list[str]:
    """One ffmpeg command comparing every rendition with the source, over `windows`: each pair at the
    rendition's size (SSIM), or `at_source_size` with the rendition scaled up (VMAF). Each pair's
    figures go to `stats_dir/<name>.<window>.log`. A full pass scores every `nth` frame."""
    outputs = []
    for w, (start, length) in enumerate(windows(info.duration, window_count)):
        span = {"ss": start, "t": length} if length else {}
        src = ffmpeg.input(str(source), **SAFE_INPUT_OPTIONS, **span)[str(info.video_stream_index)]
        if (info.frame_rate or 30.0) > MAX_FPS:  # the renditions were made at MAX_FPS
            src = src.filter("fps", MAX_FPS)
        keep = f"not(mod(n,{nth}))"  # ffmpeg-python escapes the comma
        every = nth if length is None else 1
        thin = every > 1 and not at_source_size  # SSIM: pick the frames before scaling, the others are never compared
        if thin:
            src = src.filter("select", keep)
        references = src.filter_multi_output("split", len(videos))
        for i, video in enumerate(videos):
            distorted = ffmpeg.input(str(video.path), **SAFE_INPUT_OPTIONS, **span)["v:0"]
            if thin:
                distorted = distorted.filter("select", keep)
            reference = references.stream(i)
            if at_source_size:  # the source too, from its stored size to its display size
                distorted = distorted.filter("scale", info.width, info.height, flags="bicubic")
                reference = reference.filter("scale", info.width, info.height, flags="bicubic")
            else:
                reference = reference.filter("scale", video.width, video.height, flags="bicubic")
            reference = reference.filter("setsar", 1).filter("format", "yuv420p")
            distorted = distorted.filter("setsar", 1).filter("format", "yuv420p")
            stats = stats_dir / f"{video.name}.{w}.log"
            outputs.append(compare(distorted, reference, stats, 1 if thin else every).output("-", f="null"))
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
    cmd = compare_command(source, info, videos, workdir, window_count=window_count)
    run_ffmpeg(cmd, timeout=timeout, what="The quality measurement")
    return {video.name: _mean_all(sorted(workdir.glob(f"{video.name}.*.log"))) for video in videos}


def measure_vmaf(
    source: Path,
    info: MediaInfo,
    videos: Sequence[VideoFile],
    workdir: Path,
    *,
    window_count: int = 3,
    timeout: float | None = None,
    niceness: int = 0,
    on_progress: ProgressCallback | None = None,
    nth: int = FULL_PASS_NTH,
) -> dict[str, float]:
    """VMAF (0..100; about 93 and up: a viewer cannot tell it from the source) of each rendition,
    scaled to the source's display size, averaged over its frames, by name."""
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = compare_command(
        source, info, videos, workdir, window_count=window_count, at_source_size=True, compare=_vmaf, nth=nth
    )
    cmd[0] = vmaf_ffmpeg()
    run_ffmpeg(cmd, timeout=timeout, what="The VMAF measurement", niceness=niceness, on_progress=on_progress)
    return {video.name: mean_vmaf(sorted(workdir.glob(f"{video.name}.*.log"))) for video in videos}


def mean_vmaf(logs: Sequence[Path]) -> float:
    """The mean VMAF over every frame scored in libvmaf's JSON `logs`."""
    scores = [frame["metrics"]["vmaf"] for path in logs for frame in json.loads(path.read_text())["frames"]]
    if not scores:
        raise ProcessingError(f"No VMAF figures in {[p.name for p in logs]}.")
    return sum(scores) / len(scores)


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
