"""Transient faults seen by a running job: storage out of reach, a full work disk, an encoder
killed from outside, workers lost. They delay a job; when one finally gives up, its reason says what is known."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.utils import timezone

from ..models import Job, JobEvent
from .transitions import job_mark_failed, job_note

WAITING_FOR_STORAGE = "storage"
WAITING_FOR_DISK = "disk"
# Written into the job's history by a retry after ffmpeg died by a signal (tasks.base.JobTask).
ENCODER_KILLED_NOTE = "was killed by a signal"


def job_wait_for_storage(*, job_id: uuid.UUID | str, stage: str) -> bool:
    """Mark the job as waiting for storage (said once in its history); True while the outage
    is shorter than MEDIA_STORAGE_OUTAGE_MAX_S, counted from the first failed try."""
    note = f"Waiting for storage: it is out of reach while {stage}; trying again."
    return _job_wait(job_id=job_id, what=WAITING_FOR_STORAGE, note=note, max_s=settings.MEDIA_STORAGE_OUTAGE_MAX_S)


def job_wait_for_disk(*, job_id: uuid.UUID | str, stage: str) -> bool:
    """Mark the job as waiting for disk space on a worker (said once in its history); True while
    that lasts less than MEDIA_DISK_FULL_MAX_S. The retry may go to any worker with room."""
    note = f"Waiting for disk space: a worker's disk filled up while {stage}; trying again."
    return _job_wait(job_id=job_id, what=WAITING_FOR_DISK, note=note, max_s=settings.MEDIA_DISK_FULL_MAX_S)


def _job_wait(*, job_id: uuid.UUID | str, what: str, note: str, max_s: int) -> bool:
    now = timezone.now()
    Job.objects.filter(pk=job_id, waiting_since__isnull=True).update(waiting_since=now)
    # A job already ready (its quality measurement waits) says nothing: nobody waits for it.
    running = Job.objects.filter(pk=job_id).exclude(status__in=Job.FINAL_STATUSES)
    if running.exclude(waiting_for=what).update(waiting_for=what):
        job_note(job_id=job_id, message=note)
    since = Job.objects.filter(pk=job_id).values_list("waiting_since", flat=True).first()
    return since is not None and (now - since).total_seconds() < max_s


def job_fail_outlasted(*, job_id: uuid.UUID | str, what: str, stage: str, max_s: int) -> bool:
    """A fault waited out past its bound: fail the job, saying what was missing and for how long."""
    minutes = max(1, max_s // 60)
    return job_mark_failed(
        job_id=job_id,
        reason=f"{what} for over {minutes} minute{'s' * (minutes > 1)} while {stage}. "
        "The file may be fine; try again later.",
    )


def job_fail_storage_gone(*, job_id: uuid.UUID | str, stage: str) -> bool:
    what, max_s = "Storage was out of reach", settings.MEDIA_STORAGE_OUTAGE_MAX_S
    return job_fail_outlasted(job_id=job_id, what=what, stage=stage, max_s=max_s)


def job_fail_disk_full(*, job_id: uuid.UUID | str, stage: str) -> bool:
    what, max_s = "Our workers had no disk space", settings.MEDIA_DISK_FULL_MAX_S
    return job_fail_outlasted(job_id=job_id, what=what, stage=stage, max_s=max_s)


def job_note_encoder_killed(*, job_id: uuid.UUID | str, stage: str, signal: str, worker: str = "") -> None:
    message = f"The encoder {ENCODER_KILLED_NOTE} ({signal}) while {stage}, not by us: trying again."
    job_note(job_id=job_id, message=message, worker=worker)


def job_fail_encoder_killed(*, job_id: uuid.UUID | str, stage: str, tries: int) -> bool:
    """ffmpeg died by a signal on every try: the file is the common factor (likely its memory use)."""
    return job_mark_failed(
        job_id=job_id,
        reason=f"The encoder was killed by the system on each of {tries} tries while {stage}; "
        "this file probably needs more memory than a worker has. Giving up.",
    )


def job_fail_workers_lost(*, job_id: uuid.UUID | str, deliveries: str) -> bool:
    """The delivery limit: workers were lost with the job's message again and again. Blame the
    file only if ffmpeg was seen dying by a signal; otherwise only say that workers were lost."""
    killed = JobEvent.objects.filter(job_id=job_id, message__contains=ENCODER_KILLED_NOTE).count()
    reason = f"The worker processing this file stopped {deliveries} times before finishing (killed or crashed); "
    if killed:
        reason += f"giving up. Its encoder was killed by a signal {killed} times: the file may need more memory."
    else:
        reason += "giving up. Nothing points at the file itself: try again later."
    return job_mark_failed(job_id=job_id, reason=reason)
