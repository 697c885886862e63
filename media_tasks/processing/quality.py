"""Objective quality of a finished job's renditions (SSIM against the scaled source).

Measured by the task after finalize: the figure is for the admin and the API, so a viewer
never waits for it. The job is ready first; the SSIM column fills in a few seconds later.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings

from ..models import Job, Rendition
from ..pipeline import quality as quality_ops
from ..pipeline.exceptions import PipelineError
from ..pipeline.renditions import describe_videos
from .runtime import media_info, source_cache_path, source_copy, work_directory
from .streams import rendition_fetch
from .transitions import job_note
from .workflow import QUALITY, Status, ffmpeg_timeout_s, quality_follows

logger = logging.getLogger(__name__)


def job_measure_quality(*, job_id: uuid.UUID | str, worker: str = "") -> bool:
    """SSIM of each MP4 rendition not measured yet; False if there was nothing to measure.

    A measurement that fails costs the figure, never the job. The local copy of the source,
    kept by finalize for this task, is dropped however it ends.
    """
    job = Job.objects.select_related("asset").filter(pk=job_id).first()
    if job is None:  # deleted with its asset while this waited in the queue
        logger.info("job %s: not measured, its asset was deleted", job_id)
        return False
    asset = job.asset
    try:
        if job.status != Status.SUCCEEDED or not quality_follows(asset.kind):
            return False
        renditions = list(asset.renditions.filter(kind=Rendition.Kind.MP4, ssim__isnull=True))
        if not renditions:
            return False
        info = media_info(asset)
        with work_directory(job_id, "quality") as workdir:
            source = source_copy(job, workdir)
            paths = {r.profile: rendition_fetch(r, workdir / f"{r.profile}.mp4") for r in renditions}
            try:
                scores = quality_ops.measure_ssim(
                    source,
                    info,
                    describe_videos(paths),
                    workdir / "ssim",
                    window_count=settings.MEDIA_SSIM_WINDOWS,
                    timeout=ffmpeg_timeout_s(info.duration),
                )
            except (PipelineError, ValueError) as exc:
                logger.warning("job %s: SSIM measurement failed: %s", job_id, exc)
                job_note(job_id=job_id, stage=QUALITY, worker=worker, message=f"Quality not measured: {exc}")
                return False
        for r in renditions:
            # A re-encode that replaced this file meanwhile is measured by its own job.
            Rendition.objects.filter(pk=r.pk, size_bytes=r.size_bytes, ssim__isnull=True).update(
                ssim=scores.get(r.profile)
            )
        figures = ", ".join(f"{profile} {score:.4f}" for profile, score in sorted(scores.items()))
        logger.info("job %s: SSIM %s", job_id, figures)
        # The page asks for the SSIM column until this note is there (selectors.quality_pending).
        job_note(job_id=job_id, stage=QUALITY, worker=worker, message=f"Quality measured (SSIM): {figures}.")
        return True
    finally:
        source_cache_path(asset.id).unlink(missing_ok=True)
