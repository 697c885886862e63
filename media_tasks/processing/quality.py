"""Objective quality of a finished job's renditions: SSIM against the source scaled to each
rendition's size, then VMAF with each rendition scaled to the source's size.

Measured by the task after finalize: the figures are for the admin, the API and the page, so a
viewer never waits for them. The job is ready first; the SSIM column fills in a few seconds
later, the VMAF column after it.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import Q

from ..models import Job, Rendition
from ..pipeline import quality as quality_ops
from ..pipeline.exceptions import PipelineError
from ..pipeline.probe import MediaInfo
from ..pipeline.renditions import VideoFile, describe_videos
from .runtime import media_info, source_cache_path, source_copy, work_directory
from .streams import rendition_fetch
from .transitions import job_note
from .workflow import QUALITY, Status, ffmpeg_timeout_s, quality_follows, quality_metrics

logger = logging.getLogger(__name__)

# Each figure (a Rendition field): its name in the job's notes, its measurement in pipeline.quality
# (looked up when it runs), its windows setting and its format.
METRICS: dict[str, tuple[str, str, str, str]] = {
    "ssim": ("SSIM", "measure_ssim", "MEDIA_SSIM_WINDOWS", ".4f"),
    "vmaf": ("VMAF", "measure_vmaf", "MEDIA_VMAF_WINDOWS", ".2f"),
}


@dataclass(frozen=True)
class _Inputs:
    """What every measurement of one job compares: the source and the renditions' local files."""

    job_id: uuid.UUID | str
    source: Path
    info: MediaInfo
    videos: list[VideoFile]
    workdir: Path
    deadline: float  # time.monotonic(): one budget for every run, so the stage's own limits come last


def job_measure_quality(*, job_id: uuid.UUID | str, worker: str = "") -> bool:
    """SSIM, then VMAF, of each MP4 rendition that lacks them; False if nothing was measured.

    A measurement that fails costs its figure (a note says why), never the job. The local copy
    of the source, kept by finalize for this task, is dropped however it ends.
    """
    job = Job.objects.select_related("asset").filter(pk=job_id).first()
    if job is None:  # deleted with its asset while this waited in the queue
        logger.info("job %s: not measured, its asset was deleted", job_id)
        return False
    asset = job.asset
    try:
        if job.status != Status.SUCCEEDED or not quality_follows(asset.kind):
            return False
        renditions = list(asset.renditions.filter(unmeasured(), kind=Rendition.Kind.MP4))
        if not renditions:
            return False
        info = media_info(asset)
        with work_directory(job_id, "quality") as workdir:
            source = source_copy(job, workdir)
            paths = {r.profile: rendition_fetch(r, workdir / f"{r.profile}.mp4") for r in renditions}
            deadline = time.monotonic() + ffmpeg_timeout_s(info.duration)
            inputs = _Inputs(job_id, source, info, describe_videos(paths), workdir, deadline)
            said = [_measure(metric, renditions, inputs) for metric in quality_metrics()]
        # The page asks for the figures until this note is there (selectors.quality_pending).
        job_note(job_id=job_id, stage=QUALITY, worker=worker, message=" ".join(text for text, _ in said if text))
        return any(stored for _, stored in said)
    finally:
        source_cache_path(asset.id).unlink(missing_ok=True)


def unmeasured() -> Q:
    """Renditions that lack a figure measured here (workflow.quality_metrics)."""
    missing = Q(pk__in=[])
    for metric in quality_metrics():
        missing |= Q(**{f"{metric}__isnull": True})
    return missing


def _measure(metric: str, renditions: list[Rendition], inputs: _Inputs) -> tuple[str, bool]:
    """One figure of the renditions that lack it, stored; what the job's note says of it, and
    whether any was stored."""
    label, function, windows, fmt = METRICS[metric]
    wanted = {r.profile for r in renditions if getattr(r, metric) is None}
    if not wanted:
        return "", False
    try:
        scores = getattr(quality_ops, function)(
            inputs.source,
            inputs.info,
            [v for v in inputs.videos if v.name in wanted],
            inputs.workdir / metric,
            window_count=getattr(settings, windows),
            timeout=max(1.0, inputs.deadline - time.monotonic()),
        )
    # RuntimeError: imageio-ffmpeg found no ffmpeg of its own (VMAF's); the figure is lost, not the job.
    except (PipelineError, ValueError, RuntimeError) as exc:
        logger.warning("job %s: %s measurement failed: %s", inputs.job_id, label, exc)
        return f"Quality not measured ({label}): {exc}", False
    for r in renditions:
        if r.profile in wanted and r.profile in scores:
            # A re-encode that replaced this file meanwhile is measured by its own job.
            fresh = Rendition.objects.filter(pk=r.pk, size_bytes=r.size_bytes, **{f"{metric}__isnull": True})
            fresh.update(**{metric: scores[r.profile]})
    figures = ", ".join(f"{profile} {score:{fmt}}" for profile, score in sorted(scores.items()))
    logger.info("job %s: %s %s", inputs.job_id, label, figures)
    return f"Quality measured ({label}): {figures}.", True
