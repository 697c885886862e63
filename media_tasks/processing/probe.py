"""The first stage: find out what the upload really is, whatever its name says."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings

from ..models import Asset, Job
from ..pipeline.probe import ProbeLimits, probe
from .runtime import run_stage, source_copy
from .workflow import Status


def job_probe(*, job_id: uuid.UUID | str, worker: str = "") -> str | None:
    """Probe the source and record its kind and metadata. Returns "video", "image", or None if the job stopped."""

    def work(job: Job, workdir: Path) -> None:
        limits = ProbeLimits(
            max_duration_s=settings.MEDIA_MAX_DURATION_S,
            max_pixels=settings.MEDIA_MAX_PIXELS,
            max_frame_rate=settings.MEDIA_MAX_FRAME_RATE,
        )
        info = probe(source_copy(job, workdir), limits)
        Asset.objects.filter(pk=job.asset_id).update(kind=info.kind, probe=info.as_dict())

    if not run_stage(job_id=job_id, stage=Status.PROBING, worker=worker, work=work):
        return None
    return Asset.objects.values_list("kind", flat=True).get(jobs__id=job_id)
