"""The job's state changes. States only move forward, through a conditional UPDATE, so a
redelivered task can neither move a job back nor finish it twice. Which move is allowed
is the workflow's to say."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from .. import events
from ..models import Job, JobEvent, Worker
from .workflow import ENTERED_FROM, PLAYABLE_STAGE, PROGRESS_SPANS, Status

logger = logging.getLogger(__name__)

# A running stage's heartbeat missed this many beats: its run is dead, another delivery may redo it.
RUN_DEAD_AFTER_HEARTBEATS = 3


class StageRunning(Exception):
    """The stage is running on a live worker (a duplicate delivery): look again later. Once that
    run ends the job has moved on (and this delivery skips it) or its run is known dead."""


def job_advance(*, job_id: uuid.UUID | str, to: str, worker: str, dead_here: bool = False) -> bool:
    """Move the job into stage `to` if it is in an allowed state; False if it is not.

    Entering from the previous stage is a start; entering from `to` itself is a redelivery
    after a worker was lost (the history says so) or a retry, taken only if the run it would
    replace is known to be over (_run_is_over); StageRunning while that run is alive.
    `dead_here`: the caller knows that no run of the stage is alive in this worker (its lock).
    """
    now = timezone.now()
    changes = {"status": to, "progress": PROGRESS_SPANS[to][0], "worker_hostname": worker[:255], "updated_at": now}
    updated = Job.objects.filter(pk=job_id, status__in=ENTERED_FROM[to]).update(**changes, heartbeat_at=now)
    again = False
    if not updated:
        current = Job.objects.filter(pk=job_id, status=to).values("heartbeat_at", "worker_hostname", "waiting_for")
        if not (run := current.first()):
            return False
        if not (dead_here and run["worker_hostname"] == worker[:255]) and not _run_is_over(run, now):
            raise StageRunning(f"{Status(to).label} is running on {run['worker_hostname']}: looking again later.")
        # Conditional on the heartbeat read: of two deliveries at once, one takes the stage.
        same_run = Job.objects.filter(pk=job_id, status=to, heartbeat_at=run["heartbeat_at"])
        if run["waiting_for"]:
            # A retry while waiting (storage, disk): the work made is reused, so progress stays, and
            # the history already says it waits.
            if same_run.update(worker_hostname=worker[:255], updated_at=now, heartbeat_at=now):
                return True
            raise StageRunning(f"{Status(to).label} was just taken by another delivery.")
        if not same_run.update(**changes, heartbeat_at=now):
            raise StageRunning(f"{Status(to).label} was just taken by another delivery.")
        again = True
    if to == Status.PROBING:
        # Each start of the first stage is an attempt: the first delivery, a
        # redelivery after a lost worker, or a retry. Its message arrived, whatever its publish
        # reported (a confirm that timed out): the rescue must not send it again.
        Job.objects.filter(pk=job_id).update(attempts=F("attempts") + 1)
        Job.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=now)
        Job.objects.filter(pk=job_id, enqueued_at__isnull=True).update(enqueued_at=now)
    label = Status(to).label
    message = f"{label} started again: the previous try was interrupted." if again else f"{label} started."
    events.publish(job_id=job_id, type=JobEvent.Type.STAGE, stage=to, message=message, worker=worker)
    return True


def _run_is_over(run: dict, now: datetime) -> bool:
    """Whether the run that last held the stage is over: it ended (its heartbeat cleared, see
    runtime.run_stage), or it is dead: its heartbeat stale, or its worker gone from the registry
    or started again since the run's last beat."""
    beat = run["heartbeat_at"]
    if beat is None or beat < now - timedelta(seconds=RUN_DEAD_AFTER_HEARTBEATS * settings.MEDIA_JOB_HEARTBEAT_S):
        return True
    live = now - timedelta(seconds=settings.MEDIA_WORKER_STALE_S)
    worker = Worker.objects.filter(hostname=run["worker_hostname"], last_seen_at__gte=live).first()
    return worker is None or worker.started_at > beat


def job_run_ended(*, job_id: uuid.UUID | str, stage: str) -> None:
    """This worker's run of `stage` is over (done, or raised to be retried): a delivery of the
    same stage may take it at once (_run_is_over)."""
    Job.objects.filter(pk=job_id, status=stage).update(heartbeat_at=None)


def job_mark_playable(*, job_id: uuid.UUID | str, worker: str = "") -> bool:
    """Its first segments are stored and the master published: a player may start (once, however
    many deliveries; a redone transcode keeps the first moment)."""
    now = timezone.now()
    marked = Job.objects.filter(pk=job_id, status=PLAYABLE_STAGE, playable_at__isnull=True).update(
        playable_at=now, updated_at=now
    )
    if marked:
        events.publish(
            job_id=job_id,
            type=JobEvent.Type.PLAYABLE,
            stage=PLAYABLE_STAGE,
            message="Playable: more qualities are coming.",
            worker=worker,
        )
    return bool(marked)


def job_succeed(*, job_id: uuid.UUID | str, worker: str = "") -> bool:
    """The last stage is done: the job is ready (once, however many deliveries)."""
    now = timezone.now()
    finished = Job.objects.filter(pk=job_id, status=Status.FINALIZING).update(
        status=Status.SUCCEEDED, progress=100, finished_at=now, updated_at=now
    )
    if finished:
        # The fault tests count this line: exactly one per job, however many deliveries.
        logger.info("job %s succeeded", job_id)
        events.publish(job_id=job_id, type=JobEvent.Type.SUCCEEDED, message="Ready.", worker=worker)
    return bool(finished)


def job_mark_failed(*, job_id: uuid.UUID | str, reason: str, retryable: bool = True) -> bool:
    """Fail the job with a reason written for its owner, unless it has already ended; not
    `retryable` when the file itself is the reason (another try would fail the same way)."""
    now = timezone.now()
    updated = (
        Job.objects.filter(pk=job_id)
        .exclude(status__in=Job.FINAL_STATUSES)
        .update(status=Status.FAILED, error=reason[:2000], retryable=retryable, finished_at=now, updated_at=now)
    )
    if updated:
        logger.warning("job %s failed: %s", job_id, reason)
        events.publish(job_id=job_id, type=JobEvent.Type.FAILED, message=reason)
    return bool(updated)


def job_mark_internal_error(*, job_id: uuid.UUID | str, stage: str) -> bool:
    """For a crash that is ours, not the file's: say so without leaking internals."""
    return job_mark_failed(
        job_id=job_id,
        reason=f"Something went wrong on our side while {stage}. The file may be fine; try again later.",
    )


def job_cancel(*, job_id: uuid.UUID | str, reason: str = "Cancelled.") -> bool:
    """Cancel a job that has not ended. A running ffmpeg is stopped within about a second: its
    progress reporter, called every second while it runs, finds the job no longer in its stage."""
    now = timezone.now()
    cancelled = (
        Job.objects.filter(pk=job_id)
        .exclude(status__in=Job.FINAL_STATUSES)
        .update(status=Status.CANCELLED, error=reason, finished_at=now, updated_at=now)
    )
    if cancelled:
        events.publish(job_id=job_id, type=JobEvent.Type.CANCELLED, message=reason)
    return bool(cancelled)


def job_note(*, job_id: uuid.UUID | str, message: str, worker: str = "", stage: str = "") -> None:
    """Record something worth knowing in the job's history (a fallback, a resume, a measurement)."""
    events.publish(job_id=job_id, type=JobEvent.Type.NOTE, stage=stage, message=message, worker=worker)


def job_mark_enqueued(*, job_id: uuid.UUID | str) -> None:
    """RabbitMQ confirmed the job's first message: it is no longer one the rescue must publish."""
    Job.objects.filter(pk=job_id, enqueued_at__isnull=True).update(enqueued_at=timezone.now())
