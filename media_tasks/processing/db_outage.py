"""The database out of reach while a job runs: waited out in the worker, not retried.

A retry cannot help while the database is down (every stage starts by writing to it), and a
failure cannot even be written then. So a stage that meets the outage keeps its message
(unacknowledged: a worker lost meanwhile loses nothing) and waits, re-checking with a capped
backoff that never drops under a second, then carries on where a retry would, without
spending the retry budget. A stage is failed only if the outage outlasted
MEDIA_DATABASE_OUTAGE_MAX_S, and only once the database can record it.
"""

from __future__ import annotations

import logging
import time
import uuid

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from ..models import Job
from . import faults
from .transitions import job_note

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
WAITING_FOR_DATABASE = "database"
# The first re-check comes after this long, and no re-check comes sooner: a restart takes a moment.
RECHECK_FLOOR_S = 1.0


def database_reachable() -> bool:
    """A fresh connection answers (the one that failed is closed first)."""
    connection.close()
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DATABASE_ERRORS:
        connection.close()
        return False


def wait_for_database(*, job_id: uuid.UUID | str, stage: str, exc: BaseException) -> float:
    """Block until the database answers again; the seconds waited. One line when it starts,
    one when it ends, whatever the length."""
    started = time.monotonic()
    logger.warning("job %s: the database is out of reach while %s (%s); waiting for it", job_id, stage, exc)
    pause = RECHECK_FLOOR_S
    while True:
        time.sleep(pause)
        if database_reachable():
            waited = time.monotonic() - started
            logger.info("job %s: the database is back after %.0f s; carrying on %s", job_id, waited, stage)
            return waited
        pause = min(max(RECHECK_FLOOR_S, pause * 2), max(RECHECK_FLOOR_S, settings.MEDIA_DATABASE_RETRY_BACKOFF_MAX_S))


def job_note_database_back(*, job_id: uuid.UUID | str, stage: str, waited_s: float) -> None:
    """Said in the job's history, and on its page while the stage picks up again (the stage
    clears it, as it clears a wait for storage); the run that follows reuses what was made."""
    now = timezone.now()
    running = Job.objects.filter(pk=job_id).exclude(status__in=Job.FINAL_STATUSES)
    # The heartbeat is left alone: it says whether a run holds the stage (transitions.job_advance).
    running.update(waiting_for=WAITING_FOR_DATABASE, waiting_since=now - timezone.timedelta(seconds=waited_s))
    job_note(
        job_id=job_id,
        message=f"Waited {waited_s:.0f} s for the database: it was out of reach while {stage}; carrying on.",
    )


def outage_outlasted_bound(waited_s: float) -> bool:
    return waited_s > settings.MEDIA_DATABASE_OUTAGE_MAX_S


def job_fail_database_gone(*, job_id: uuid.UUID | str, stage: str) -> bool:
    what, max_s = "The database was out of reach", settings.MEDIA_DATABASE_OUTAGE_MAX_S
    return faults.job_fail_outlasted(job_id=job_id, what=what, stage=stage, max_s=max_s)
