"""What a worker on a GPU box would offer: the worker's own start-up check (a test encode of
every listed hardware encoder, the NVDEC + scale_cuda ladder timed against the CPU), and the
platform's full ladder decoded on the GPU against the CPU, with the frame counts compared."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.chunked import frame_counts
from bench.common import LADDER, LIMITS, interleave, results
from media_tasks.pipeline import encoders, video
from media_tasks.pipeline.exceptions import HardwareEncoderError, ProcessingError
from media_tasks.pipeline.probe import probe
from media_tasks.pipeline.streams import transcode_ladder
from tests.media import make_video


def bench_gpu(tmp: Path, reps: int, seconds: float) -> None:
    if not encoders.nvidia_device_present():
        print("  no NVIDIA device: skipped")
        return
    started = time.perf_counter()
    found = encoders.find_capabilities()  # as a worker starts: MEDIA_GPU_ENCODE=auto, MEDIA_HW_DECODE=auto
    results["gpu"] = {
        "device": _gpu_name(),
        "check_s": time.perf_counter() - started,
        **found.as_dict(),
        "ladder": _ladder_on_gpu(tmp, reps, seconds),
    }


def _ladder_on_gpu(tmp: Path, reps: int, seconds: float) -> dict:
    """The platform's ladder (libx264) decoded and scaled on the CPU, and on the GPU as
    MEDIA_HW_DECODE=force would run it."""
    clip = make_video(tmp / "gpu.mp4", width=1920, height=1080, duration=seconds, noise=True, tone=700)
    info = probe(clip, LIMITS)
    rungs = video.plan_ladder(info, LADDER)

    def ladder(hw: bool) -> None:
        out = tmp / ("gpu-hw" if hw else "gpu-cpu")
        transcode_ladder(clip, info, rungs, out, settings=video.EncodeSettings(hw_decode=hw))

    try:
        ladder(True)
    except (HardwareEncoderError, ProcessingError) as exc:
        return {"seconds": seconds, "error": str(exc)}
    med = interleave(reps, cpu=lambda: ladder(False), hw=lambda: ladder(True))
    return {
        "seconds": seconds,
        "cpu_s": med["cpu"],
        "hw_s": med["hw"],
        "hw_over_cpu": med["hw"] / med["cpu"],
        "frames_match": frame_counts(tmp / "gpu-hw") == frame_counts(tmp / "gpu-cpu"),
    }


def _gpu_name() -> str:
    proc = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or "unknown"
