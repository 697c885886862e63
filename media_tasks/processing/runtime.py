"""What every stage runs inside: the job's heartbeat, a private work directory, the source's
local copy, the progress reporter that also notices a cancel, and the recording of outputs."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from .. import events, storage
from ..models import Asset, Job, JobEvent, Rendition
from ..pipeline.exceptions import (
    DiskFull,
    MediaLimitError,
    PipelineError,
    ProcessingCancelled,
    UnsupportedMediaError,
)
from ..pipeline.probe import MediaInfo
from ..pipeline.runner import disk_full_guard
from .db_outage import DATABASE_ERRORS
from .early_hls import early_hls_remove
from .transitions import StageRunning, job_advance, job_mark_failed, job_run_ended
from .workflow import PROGRESS_SPANS

logger = logging.getLogger(__name__)

# Failures another try cannot help: the content is not one we read (or is cut short), or over a limit.
THE_FILES_FAULT = (UnsupportedMediaError, MediaLimitError)


def progress_reporter(job_id: uuid.UUID | str, status: str) -> Callable[[float], None]:
    """A callback for the pipeline that writes percent done, and stops the work if the job ended."""
    start, end = PROGRESS_SPANS[status]

    last_step = [start // 10]
    unrecorded = [False]  # said once per outage, not at every tick

    def report(fraction: float) -> None:
        percent = int(start + (end - start) * max(0.0, min(1.0, fraction)))
        try:
            still_running = Job.objects.filter(pk=job_id, status=status).update(
                progress=Greatest(F("progress"), percent), waiting_for="", updated_at=timezone.now()
            )
        except DATABASE_ERRORS as exc:
            # Best effort: a database restart must never stop an encode. The next tick reconnects.
            connection.close()
            if not unrecorded[0]:
                logger.info("job %s: progress not recorded (%s); the encode goes on", job_id, exc)
            unrecorded[0] = True
            return
        unrecorded[0] = False
        if not still_running:
            raise ProcessingCancelled("The job was stopped.")
        if percent // 10 > last_step[0]:  # subscribers hear of every 10 %, not every tick
            last_step[0] = percent // 10
            events.publish(
                job_id=job_id, type=JobEvent.Type.PROGRESS, stage=status, message=f"{percent}%", record=False
            )

    return report


# Written into a stage's work directory once its outputs are complete, before they are stored:
# a retry on this machine after storage was out of reach stores them instead of redoing them.
COMPLETE_MARKER = ".complete"


@contextmanager
def work_directory(job_id: uuid.UUID | str, stage: str) -> Iterator[Path]:
    """A private temp directory for one stage of one job, removed however the stage ends, except
    when storage was out of reach: complete outputs then wait there for the retry."""
    path = Path(settings.MEDIA_WORK_DIR) / f"job-{job_id}-{stage}"
    if not (path / COMPLETE_MARKER).exists():
        shutil.rmtree(path, ignore_errors=True)  # a leftover of a killed worker or an unfinished try
    path.mkdir(parents=True, exist_ok=True)
    keep = False
    try:
        yield path
    except (storage.StorageUnavailable, *DATABASE_ERRORS):  # complete outputs wait for storage or the database
        keep = True
        raise
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def heartbeat(job_id: uuid.UUID | str) -> Iterator[None]:
    """Touch the job's heartbeat from a side thread while a stage runs, however long its steps.

    A job whose heartbeat goes stale lost its worker; `jobs_rescue` resumes it.
    """
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.MEDIA_JOB_HEARTBEAT_S):
                try:
                    Job.objects.filter(pk=job_id).update(heartbeat_at=timezone.now())
                except DATABASE_ERRORS:  # the database restarted: beat again on a new connection
                    connection.close()
        except Exception:  # a heartbeat must never take the stage down
            logger.exception("job %s: heartbeat failed", job_id)
        finally:
            connection.close()  # this thread's own database connection

    Job.objects.filter(pk=job_id).update(heartbeat_at=timezone.now())
    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


# Runs of this process whose end could not be recorded (the database was out of reach): recorded
# before this process enters the stage again, so that its own retry does not wait on its own heartbeat.
_ENDS_UNRECORDED: set[tuple[str, str]] = set()


def run_stage(*, job_id: uuid.UUID | str, stage: str, worker: str, work: Callable[[Job, Path], None]) -> bool:
    """Enter `stage`, run `work(job, workdir)`, and turn bad input into a failed job.

    Returns False when the job is not (or no longer) one this stage should touch:
    cancelled, failed, or already past this stage. Raises StageRunning while another
    delivery of the stage runs on a live worker.
    """
    if (str(job_id), stage) in _ENDS_UNRECORDED:
        job_run_ended(job_id=job_id, stage=stage)
        _ENDS_UNRECORDED.discard((str(job_id), stage))
    with stage_lock(job_id, stage):
        # Holding the lock, no run of this stage is alive on this machine: an earlier run under
        # this worker's name is dead (its process was killed), whatever its heartbeat says.
        if not job_advance(job_id=job_id, to=stage, worker=worker, dead_here=True):
            logger.info("job %s: skipping %s, the job is not waiting for it", job_id, stage)
            if not Job.objects.filter(pk=job_id).exclude(status__in=(Job.Status.FAILED, Job.Status.CANCELLED)).exists():
                job_discard_local_copies(job_id=job_id)
            return False
        try:
            return run_work(job_id=job_id, name=stage, work=work)
        finally:
            try:
                job_run_ended(job_id=job_id, stage=stage)
            except DatabaseError:
                _ENDS_UNRECORDED.add((str(job_id), stage))


STAGE_LOCKS = "locks"  # under MEDIA_WORK_DIR


@contextmanager
def stage_lock(job_id: uuid.UUID | str, stage: str) -> Iterator[None]:
    """Hold this machine's lock on one stage of one job while it runs; StageRunning if a live
    process here holds it. The kernel releases it when its holder dies, however it dies (a pool
    process SIGKILLed), so the lock tells at once what a heartbeat tells only once it is stale."""
    folder = Path(settings.MEDIA_WORK_DIR) / STAGE_LOCKS
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"job-{job_id}-{stage}", os.O_CREAT | os.O_RDWR, 0o600)  # not inherited by ffmpeg
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StageRunning(f"{stage.capitalize()} is running in another process of this machine.") from None
        yield
    finally:
        os.close(fd)


def run_work(*, job_id: uuid.UUID | str, name: str, work: Callable[[Job, Path], None]) -> bool:
    """Run `work(job, workdir)` with a heartbeat in a temp directory of its own (`job-<id>-<name>`);
    bad input fails the job (False). For stages, and for the parts of a chunked transcode.

    An item deleted meanwhile ends it quietly, whatever failed for lack of its files or rows."""
    job = Job.objects.select_related("asset").filter(pk=job_id).first()
    if job is None:
        logger.info("job %s: its item was deleted before %s; nothing to do", job_id, name)
        return False
    try:
        with heartbeat(job_id), work_directory(job_id, name) as workdir, disk_full_guard():
            work(job, workdir)
    except DiskFull:
        job_discard_local_copies(job_id=job_id, asset_id=job.asset_id)  # room for the retry, here or elsewhere
        raise
    except Exception as exc:
        if not Asset.objects.filter(pk=job.asset_id).exists():
            _stopped_by_delete(job, name)
            return False
        if not isinstance(exc, PipelineError):
            raise
        # Bad input, or the job was cancelled meanwhile.
        job_mark_failed(job_id=job_id, reason=str(exc), retryable=not isinstance(exc, THE_FILES_FAULT))
        job_discard_local_copies(job_id=job_id, asset_id=job.asset_id)
        return False
    Job.objects.filter(pk=job_id).exclude(waiting_since=None).update(waiting_for="", waiting_since=None)
    return True


def _stopped_by_delete(job: Job, name: str) -> None:
    """The item was deleted while `name` ran (its progress report stopped ffmpeg, or a file or
    row it needed went): say so once, and remove what this run stored after the delete
    (segments published as the encode went), which nobody would find."""
    logger.info("job %s: its item was deleted during %s; stopped", job.pk, name)
    job_discard_local_copies(job_id=job.pk, asset_id=job.asset_id)
    storage.delete_asset_files(job.asset_id)


def job_discard_local_copies(*, job_id: uuid.UUID | str, asset_id: uuid.UUID | str | None = None) -> None:
    """Remove what this machine holds for a job that ended without success: its work
    directories, and the asset's source copy and frames (a retry downloads them again); and,
    once it is failed or cancelled, the HLS it published early (early_hls_remove).

    Called by the worker that sees the end (failed, cancelled, or deleted with its asset); what
    other machines hold goes with their sweep (rescue.workdirs_remove_stale)."""
    early_hls_remove(job_id=job_id)
    root = Path(settings.MEDIA_WORK_DIR)
    for path in root.glob(f"job-{job_id}-*"):
        shutil.rmtree(path, ignore_errors=True)
    asset_id = asset_id or Job.objects.filter(pk=job_id).values_list("asset_id", flat=True).first()
    if asset_id:
        source_cache_path(asset_id).unlink(missing_ok=True)
        shutil.rmtree(frames_cache_path(asset_id), ignore_errors=True)


def source_copy(job: Job, workdir: Path) -> Path:
    """The original on local disk, downloaded once per machine and shared by the job's stages.

    Stages only read it. The copy is dropped when the job finishes here, or by the
    stale-directory sweep; a partial download never takes its name. The stage reads it through
    a hard link in its own `workdir`: another job of the same asset (a re-encode started while
    the last one's quality stage ran) may drop the shared name at any time.
    """
    cached = source_cache_path(job.asset_id)
    held = workdir / "source"
    held.unlink(missing_ok=True)
    for _ in range(2):
        if cached.exists() and cached.stat().st_size == job.asset.size_bytes:
            cached.touch()  # in use: keep it from the sweep
        else:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = workdir / "source.part"
            storage.download_file(job.asset.original_key, partial)
            partial.replace(cached)
        try:
            os.link(cached, held)
            return held
        except FileNotFoundError:  # dropped between the look and the link: fetched again
            continue
        except OSError:  # another filesystem (or one without links): the shared name, as before
            return cached
    return cached


def source_cache_path(asset_id: uuid.UUID | str) -> Path:
    return Path(settings.MEDIA_WORK_DIR) / "sources" / str(asset_id)


def frames_cache_path(asset_id: uuid.UUID | str) -> Path:
    """Where a whole-file transcode leaves the poster and sprite frames of its decode for the
    thumbnails stage, when that runs on the same machine (it decodes renditions otherwise)."""
    return Path(settings.MEDIA_WORK_DIR) / "frames" / str(asset_id)


def media_info(asset: Asset) -> MediaInfo:
    return MediaInfo.from_dict(asset.probe)


def require_kind(asset: Asset, kind: str) -> None:
    if asset.kind != kind:
        raise UnsupportedMediaError(f"Expected {kind} content, found {asset.kind or 'nothing usable'}.")


def record(job: Job, kind: str, profile: str, key: str, **fields: object) -> Rendition:
    """Write a rendition row, made by the job's current worker, once its file is stored."""
    # update_or_create on (asset, kind, profile): a redelivered task overwrites its own row.
    rendition, _ = Rendition.objects.update_or_create(
        asset=job.asset,
        kind=kind,
        profile=profile,
        defaults={"storage_key": key, "worker_hostname": job.worker_hostname, **fields},
    )
    return rendition
