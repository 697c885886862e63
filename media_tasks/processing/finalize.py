"""The last stage: check that the outputs a viewer needs are recorded, then mark the job ready."""

from __future__ import annotations

import shutil
import uuid

from ..models import Job, Rendition
from ..pipeline.probe import AUDIO, IMAGE, VIDEO
from .runtime import frames_cache_path, source_cache_path
from .transitions import job_advance, job_mark_failed, job_succeed
from .workflow import Status, quality_follows

VIDEO_NEEDS = {
    Rendition.Kind.MP4,
    Rendition.Kind.HLS,
    Rendition.Kind.DASH,
    Rendition.Kind.POSTER,
    Rendition.Kind.SPRITE,
}
IMAGE_NEEDS = {Rendition.Kind.IMAGE}
AUDIO_NEEDS = {Rendition.Kind.AUDIO, Rendition.Kind.M4A, Rendition.Kind.HLS, Rendition.Kind.DASH, Rendition.Kind.POSTER}
NEEDS = {VIDEO: VIDEO_NEEDS, IMAGE: IMAGE_NEEDS, AUDIO: AUDIO_NEEDS}


def job_finalize(*, job_id: uuid.UUID | str, worker: str = "") -> bool:
    """Ready once, or failed if an output a viewer needs is missing."""
    if not job_advance(job_id=job_id, to=Status.FINALIZING, worker=worker):
        return False
    job = Job.objects.select_related("asset").get(pk=job_id)
    needed = NEEDS.get(job.asset.kind, IMAGE_NEEDS)
    present = set(job.asset.renditions.values_list("kind", flat=True))
    if not quality_follows(job.asset.kind):  # else the quality task after this drops it
        source_cache_path(job.asset_id).unlink(missing_ok=True)
    shutil.rmtree(frames_cache_path(job.asset_id), ignore_errors=True)  # unused if thumbnails ran elsewhere
    if missing := needed - present:
        job_mark_failed(job_id=job_id, reason=f"Processing ended without {', '.join(sorted(missing))} output.")
        return False
    return job_succeed(job_id=job_id, worker=worker)
