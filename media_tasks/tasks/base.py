"""The base of every pipeline stage's task: Celery's retry options for transient faults, the
faults waited out for as long as they last, and a failure written even after a database outage."""

from __future__ import annotations

import logging
from typing import Any

import botocore.exceptions
import kombu.exceptions
from celery.exceptions import Retry, SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError

from .. import storage
from ..pipeline.exceptions import DiskFull, EncoderKilled
from ..processing import db_outage, faults, runtime, transitions
from ..publishing import BoundedPublishTask

logger = logging.getLogger(__name__)

# Worth another try later: the storage or the database was briefly out of reach.
# Bad input never lands here; the services turn it into a failed job at once.
TRANSIENT_ERRORS = (
    ConnectionError,  # includes storage.StorageUnavailable (S3 unreachable or 5xx)
    EncoderKilled,  # ffmpeg died by a signal not ours (the OOM killer): not the file's fault
    DiskFull,  # a worker's work disk ran out of space: waited out like storage (JobTask.retry)
    transitions.StageRunning,  # a duplicate delivery while the stage runs elsewhere: looked at again
    TimeoutError,
    botocore.exceptions.ConnectionError,  # S3 calls made outside the storage package's transfers
    botocore.exceptions.HTTPClientError,
    kombu.exceptions.OperationalError,  # a broker hiccup while publishing the next stage
    OperationalError,
    InterfaceError,
)


class JobTask(BoundedPublishTask):
    """A pipeline stage: retried with backoff on transient errors, failing the job if it gives up.

    Storage out of reach and a full work disk are the exceptions to the bounded count: retried
    for as long as they last, up to MEDIA_STORAGE_OUTAGE_MAX_S (MEDIA_DISK_FULL_MAX_S), while
    the job says it waits for storage (disk space).
    """

    # The database out of reach is not retried but waited out in the worker (__call__).
    autoretry_for = tuple(error for error in TRANSIENT_ERRORS if error not in db_outage.DATABASE_ERRORS)
    retry_backoff = 2
    retry_backoff_max = settings.MEDIA_TASK_RETRY_BACKOFF_MAX_S
    retry_jitter = True
    max_retries = settings.MEDIA_TASK_MAX_RETRIES
    stage_description = "processing the file"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the stage; should the database go away, wait for it here and run the stage again
        (reusing what it made), its message unacknowledged and its retry budget untouched."""
        job_id = job_id_of(args, kwargs)
        waited = 0.0
        while True:
            try:
                if waited and db_outage.outage_outlasted_bound(waited):
                    db_outage.job_fail_database_gone(job_id=job_id, stage=self.stage_description)
                    runtime.job_discard_local_copies(job_id=job_id)
                    return None
                if waited:
                    db_outage.job_note_database_back(job_id=job_id, stage=self.stage_description, waited_s=waited)
                    waited = 0.0
                # What Celery's own __call__ runs; the worker has pushed this delivery's request.
                return self.run(*args, **kwargs)
            except db_outage.DATABASE_ERRORS as exc:
                if not job_id:
                    raise
                try:
                    waited += db_outage.wait_for_database(job_id=job_id, stage=self.stage_description, exc=exc)
                except SoftTimeLimitExceeded:
                    # The stage's own time ran out while it waited, not its work: hand the message
                    # back to the broker (uncounted) to wait again, rather than blame the file.
                    options = {"countdown": settings.MEDIA_DATABASE_RETRY_BACKOFF_MAX_S}
                    raise self.retry(exc=exc, max_retries=self.request.retries + 1, **options) from None

    def retry(self, *args: Any, exc: BaseException | None = None, **options: Any) -> Retry:
        job_id = job_id_of(self.request.args, self.request.kwargs)
        wait = next((wait for fault, wait in _WAITS.items() if isinstance(exc, fault)), None)
        if job_id and wait is not None:
            if wait(job_id=job_id, stage=self.stage_description):
                options["countdown"] = get_exponential_backoff_interval(
                    factor=2,
                    retries=self.request.retries,
                    maximum=settings.MEDIA_STORAGE_RETRY_BACKOFF_MAX_S,
                    full_jitter=True,  # storage (room) coming back is not met by every waiting job at once
                )
                options["max_retries"] = self.request.retries + 1  # no count: the outage's length decides
            else:
                options["max_retries"] = 0  # over its bound: re-raised, on_failure says why
        elif isinstance(exc, transitions.StageRunning):
            logger.info("job %s: %s", job_id, exc)
            options["countdown"] = settings.MEDIA_JOB_HEARTBEAT_S  # by then it ended, or its heartbeat aged
            options["max_retries"] = self.request.retries + 1  # no count: the running stage's length decides
        elif job_id and isinstance(exc, EncoderKilled) and self.request.retries < self.max_retries:
            faults.job_note_encoder_killed(
                job_id=job_id, stage=self.stage_description, signal=exc.signal, worker=self.request.hostname or ""
            )
        try:
            return super().retry(*args, exc=exc, **options)
        finally:  # Celery keeps an explicit max_retries on the (shared) task object otherwise
            self.__dict__.pop("override_max_retries", None)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = job_id_of(args, kwargs)
        while job_id:
            try:  # a failure that cannot be written yet waits for the database, its message kept
                return self._record_failure(exc, job_id)
            except db_outage.DATABASE_ERRORS as db_exc:
                db_outage.wait_for_database(job_id=job_id, stage=self.stage_description, exc=db_exc)

    def _record_failure(self, exc: BaseException, job_id: str) -> None:
        stage = self.stage_description
        if isinstance(exc, SoftTimeLimitExceeded):
            reason = f"{stage.capitalize()} took longer than allowed for this file."
            transitions.job_mark_failed(job_id=job_id, reason=reason)
        elif isinstance(exc, storage.StorageUnavailable):
            faults.job_fail_storage_gone(job_id=job_id, stage=stage)
        elif isinstance(exc, DiskFull):
            faults.job_fail_disk_full(job_id=job_id, stage=stage)
        elif isinstance(exc, EncoderKilled):
            faults.job_fail_encoder_killed(job_id=job_id, stage=stage, tries=self.request.retries + 1)
        else:
            transitions.job_mark_internal_error(job_id=job_id, stage=stage)
        runtime.job_discard_local_copies(job_id=job_id)


# Faults waited out for as long as they last (up to their bound), the job saying what it waits for.
_WAITS = {storage.StorageUnavailable: faults.job_wait_for_storage, DiskFull: faults.job_wait_for_disk}


def job_id_of(args: Any, kwargs: Any) -> str | None:
    """The job a stage's task was sent for, however Celery passed it."""
    return (kwargs or {}).get("job_id") or (args[0] if args else None)
