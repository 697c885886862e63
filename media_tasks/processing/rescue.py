"""Rescue and clean-up: jobs that were never published or lost their worker, stale temp dirs."""

from __future__ import annotations

import fcntl
import shutil
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from ..models import Job
from . import runtime
from .early_hls import early_hls_remove
from .transitions import job_mark_failed, job_note
from .workflow import RUNNING_STATUSES, Status, stages_from


def jobs_needing_rescue() -> tuple[list[Job], list[Job]]:
    """(never queued, stalled): jobs whose publish failed, and running jobs whose heartbeat went stale.

    A job merely waiting in a long queue is neither: it was confirmed by RabbitMQ
    (enqueued_at) and has not started.
    """
    now = timezone.now()
    never_queued = Job.objects.filter(
        status=Status.QUEUED, enqueued_at__isnull=True, created_at__lt=now - timedelta(seconds=60)
    )
    stale = now - timedelta(seconds=settings.MEDIA_JOB_STALL_S)
    stalled = (
        Job.objects.select_related("asset")
        .filter(status__in=RUNNING_STATUSES)
        .filter(Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, updated_at__lt=stale))
    )
    return list(never_queued), list(stalled)


def job_resume(*, job_id: uuid.UUID | str) -> list[str]:
    """Count a resume of a stalled job and say which stages to run again (its own, then the rest);
    none (and the job failed) once it has had too many tries."""
    job = Job.objects.select_related("asset").get(pk=job_id)
    if job.attempts >= settings.MEDIA_JOB_MAX_ATTEMPTS:
        job_mark_failed(
            job_id=job_id, reason=f"Processing stopped responding {job.attempts} times; the job was given up."
        )
        early_hls_remove(job_id=job_id)
        return []
    now = timezone.now()
    # Its run is known dead (heartbeat cleared): the resumed stage takes over at once (job_advance),
    # and updated_at keeps the rescue from resuming it again before MEDIA_JOB_STALL_S.
    resumed = Job.objects.filter(pk=job_id, status=job.status).update(
        attempts=F("attempts") + 1, heartbeat_at=None, updated_at=now
    )
    if not resumed:
        return []
    job_note(
        job_id=job_id,
        message=f"The worker went silent during {job.get_status_display().lower()}; running that stage again.",
    )
    return stages_from(job.asset.kind, job.status, inclusive=True)


def workdirs_remove_stale(*, max_age_s: int) -> int:
    """Remove job temp directories nobody has written to for `max_age_s` (a killed worker's),
    and at once what this machine holds for jobs that ended without success or assets that
    were deleted: a delete on the web host cannot reach the workers' disks."""
    root = Path(settings.MEDIA_WORK_DIR)
    if not root.exists():
        return 0
    cutoff = time.time() - max_age_s
    removed = 0
    for path in root.glob("job-*"):
        newest = max((p.stat().st_mtime for p in path.rglob("*")), default=path.stat().st_mtime)
        if max(newest, path.stat().st_mtime) < cutoff or _ended(job_id=path.name[4:40]):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    removed += _stage_locks_remove_unheld(root / runtime.STAGE_LOCKS, cutoff)
    # Originals kept for a job that failed or moved on, thumbnail frames whose job went on elsewhere.
    for cached in [*root.glob("sources/*"), *root.glob("frames/*")]:
        if cached.stat().st_mtime < cutoff or _ended(asset_id=cached.name):
            if cached.is_dir():
                shutil.rmtree(cached, ignore_errors=True)
            else:
                cached.unlink(missing_ok=True)
            removed += 1
    return removed


def _ended(*, job_id: str | None = None, asset_id: str | None = None) -> bool:
    """Whether the job (or the asset's latest job) failed or was cancelled, or is gone with its asset."""
    try:
        jobs = Job.objects.filter(pk=uuid.UUID(job_id)) if job_id else Job.objects.filter(asset_id=uuid.UUID(asset_id))
    except (TypeError, ValueError):  # not a name we made: left to the age rule
        return False
    latest = jobs.order_by("-created_at").values_list("status", flat=True).first()
    return latest is None or latest in (Status.FAILED, Status.CANCELLED)


def _stage_locks_remove_unheld(folder: Path, cutoff: float) -> int:
    """Old stage lock files (runtime.stage_lock) that no process holds: their stages ended."""
    removed = 0
    for path in folder.glob("job-*") if folder.exists() else ():
        if path.stat().st_mtime >= cutoff:
            continue
        with path.open("rb") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a stage running for longer than the cutoff
            path.unlink(missing_ok=True)
            removed += 1
    return removed
