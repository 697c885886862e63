"""Job stages and state. States only move forward, through a conditional UPDATE, so a
redelivered task can neither move a job back nor finish it twice."""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from .. import events, storage
from ..models import Asset, Job, JobEvent, Rendition
from ..pipeline import images as image_ops
from ..pipeline.exceptions import PipelineError, ProcessingCancelled, UnsupportedMediaError
from ..pipeline.probe import IMAGE, VIDEO, MediaInfo, ProbeLimits, probe

logger = logging.getLogger(__name__)

Status = Job.Status

# Which share of the progress bar each stage fills.
PROGRESS_SPANS = {
    Status.PROBING: (0, 5),
    Status.TRANSCODING: (5, 85),
    Status.THUMBNAILING: (85, 95),
    Status.PROCESSING: (5, 95),
    Status.FINALIZING: (95, 100),
}
# The state a stage may be entered from. A stage may also be re-entered from
# itself: that is a redelivery after a worker died, and the work is redone.
ENTERED_FROM = {
    Status.PROBING: (Status.QUEUED,),
    Status.TRANSCODING: (Status.PROBING,),
    Status.THUMBNAILING: (Status.TRANSCODING,),
    Status.PROCESSING: (Status.PROBING,),
    Status.FINALIZING: (Status.THUMBNAILING, Status.PROCESSING),
}


def _job_advance(*, job_id: uuid.UUID | str, to: Status, worker: str) -> bool:
    """Move the job into stage `to` if it is in an allowed state; False if it is not.

    Entering from the previous stage is a start; entering from `to` itself is a
    redelivery after a worker was lost, and the history says so.
    """
    now = timezone.now()
    changes = {"status": to, "progress": PROGRESS_SPANS[to][0], "worker_hostname": worker[:255], "updated_at": now}
    again = False
    updated = Job.objects.filter(pk=job_id, status__in=ENTERED_FROM[to]).update(**changes)
    if not updated:
        # A retry while waiting for storage: the work made is reused, so progress stays, and
        # the history already says it waits.
        waiting = Job.objects.filter(pk=job_id, status=to).exclude(waiting_for="")
        if waiting.update(worker_hostname=worker[:255], updated_at=now):
            return True
        updated = Job.objects.filter(pk=job_id, status=to).update(**changes)
        again = True
    if not updated:
        return False
    if to == Status.PROBING:
        # Each start of the first stage is an attempt: the first delivery, a
        # redelivery after a lost worker, or a retry.
        Job.objects.filter(pk=job_id).update(attempts=F("attempts") + 1)
        Job.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=now)
    message = f"{to.label} started again: the previous try was interrupted." if again else f"{to.label} started."
    events.publish(job_id=job_id, type=JobEvent.Type.STAGE, stage=to, message=message, worker=worker)
    return True


def job_mark_failed(*, job_id: uuid.UUID | str, reason: str) -> bool:
    """Fail the job with a reason written for its owner, unless it has already ended."""
    updated = (
        Job.objects.filter(pk=job_id)
        .exclude(status__in=Job.FINAL_STATUSES)
        .update(status=Status.FAILED, error=reason[:2000], finished_at=timezone.now(), updated_at=timezone.now())
    )
    if updated:
        logger.warning("job %s failed: %s", job_id, reason)
        events.publish(job_id=job_id, type=JobEvent.Type.FAILED, message=reason)
    return bool(updated)


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


def job_note(*, job_id: uuid.UUID | str, message: str, worker: str = "") -> None:
    """Record something worth knowing in the job's history (a fallback, a resume)."""
    events.publish(job_id=job_id, type=JobEvent.Type.NOTE, message=message, worker=worker)


def job_mark_internal_error(*, job_id: uuid.UUID | str, stage: str) -> bool:
    """For a crash that is ours, not the file's: say so without leaking internals."""
    return job_mark_failed(
        job_id=job_id,
        reason=f"Something went wrong on our side while {stage}. The file may be fine; try again later.",
    )


def _progress_reporter(job_id: uuid.UUID | str, status: Status) -> Callable[[float], None]:
    """A callback for the pipeline that writes percent done, and stops the work if the job ended."""
    start, end = PROGRESS_SPANS[status]

    last_step = [start // 10]

    def report(fraction: float) -> None:
        percent = int(start + (end - start) * max(0.0, min(1.0, fraction)))
        still_running = Job.objects.filter(pk=job_id, status=status).update(
            progress=Greatest(F("progress"), percent), waiting_for="", updated_at=timezone.now()
        )
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
def _workdir(job_id: uuid.UUID | str, stage: str) -> Iterator[Path]:
    """A private temp directory for one stage of one job, removed however the stage ends, except
    when storage was out of reach: complete outputs then wait there for the retry."""
    path = Path(settings.MEDIA_WORK_DIR) / f"job-{job_id}-{stage}"
    if not (path / COMPLETE_MARKER).exists():
        shutil.rmtree(path, ignore_errors=True)  # a leftover of a killed worker or an unfinished try
    path.mkdir(parents=True, exist_ok=True)
    keep = False
    try:
        yield path
    except storage.StorageUnavailable:
        keep = True
        raise
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _heartbeat(job_id: uuid.UUID | str) -> Iterator[None]:
    """Touch the job's heartbeat from a side thread while a stage runs, however long its steps.

    A job whose heartbeat goes stale lost its worker; `jobs_rescue` resumes it.
    """
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.MEDIA_JOB_HEARTBEAT_S):
                Job.objects.filter(pk=job_id).update(heartbeat_at=timezone.now())
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


def _run_stage(*, job_id: uuid.UUID | str, stage: Status, worker: str, work: Callable[[Job, Path], None]) -> bool:
    """Enter `stage`, run `work(job, workdir)`, and turn bad input into a failed job.

    Returns False when the job is not (or no longer) one this stage should touch:
    cancelled, failed, or already past this stage.
    """
    if not _job_advance(job_id=job_id, to=stage, worker=worker):
        logger.info("job %s: skipping %s, the job is not waiting for it", job_id, stage)
        if not Job.objects.filter(pk=job_id).exclude(status__in=(Status.FAILED, Status.CANCELLED)).exists():
            job_discard_local_copies(job_id=job_id)
        return False
    return _run_work(job_id=job_id, name=stage, work=work)


def _run_work(*, job_id: uuid.UUID | str, name: str, work: Callable[[Job, Path], None]) -> bool:
    """Run `work(job, workdir)` with a heartbeat in a temp directory of its own (`job-<id>-<name>`);
    bad input fails the job (False). For stages, and for the parts of a chunked transcode."""
    job = Job.objects.select_related("asset").get(pk=job_id)
    try:
        with _heartbeat(job_id), _workdir(job_id, name) as workdir:
            work(job, workdir)
    except PipelineError as exc:  # bad input, or the job was cancelled or deleted meanwhile
        job_mark_failed(job_id=job_id, reason=str(exc))
        job_discard_local_copies(job_id=job_id, asset_id=job.asset_id)
        return False
    Job.objects.filter(pk=job_id).exclude(waiting_since=None).update(waiting_for="", waiting_since=None)
    return True


def job_discard_local_copies(*, job_id: uuid.UUID | str, asset_id: uuid.UUID | str | None = None) -> None:
    """Remove what this machine holds for a job that ended without success: its work
    directories, and the asset's source copy and frames (a retry downloads them again).

    Called by the worker that sees the end (failed, cancelled, or deleted with its asset); what
    other machines hold goes with their sweep (housekeeping.workdirs_remove_stale)."""
    root = Path(settings.MEDIA_WORK_DIR)
    for path in root.glob(f"job-{job_id}-*"):
        shutil.rmtree(path, ignore_errors=True)
    asset_id = asset_id or Job.objects.filter(pk=job_id).values_list("asset_id", flat=True).first()
    if asset_id:
        source_cache_path(asset_id).unlink(missing_ok=True)
        shutil.rmtree(frames_cache_path(asset_id), ignore_errors=True)


def _source(job: Job, workdir: Path) -> Path:
    """The original on local disk, downloaded once per machine and shared by the job's stages.

    Stages only read it. The copy is dropped when the job finishes here, or by the
    stale-directory sweep; a partial download never takes its name.
    """
    cached = source_cache_path(job.asset_id)
    if cached.exists() and cached.stat().st_size == job.asset.size_bytes:
        cached.touch()  # in use: keep it from the sweep
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = workdir / "source.part"
    storage.download_file(job.asset.original_key, partial)
    partial.replace(cached)
    return cached


def source_cache_path(asset_id: uuid.UUID | str) -> Path:
    return Path(settings.MEDIA_WORK_DIR) / "sources" / str(asset_id)


def frames_cache_path(asset_id: uuid.UUID | str) -> Path:
    """Where a whole-file transcode leaves the poster and sprite frames of its decode for the
    thumbnails stage, when that runs on the same machine (it decodes renditions otherwise)."""
    return Path(settings.MEDIA_WORK_DIR) / "frames" / str(asset_id)


def _media_info(asset: Asset) -> MediaInfo:
    return MediaInfo.from_dict(asset.probe)


def _record(job: Job, kind: str, profile: str, key: str, **fields: object) -> Rendition:
    """Write a rendition row, made by the job's current worker, once its file is stored."""
    # update_or_create on (asset, kind, profile): a redelivered task overwrites its own row.
    rendition, _ = Rendition.objects.update_or_create(
        asset=job.asset,
        kind=kind,
        profile=profile,
        defaults={"storage_key": key, "worker_hostname": job.worker_hostname, **fields},
    )
    return rendition


# --- Stages ----------------------------------------------------------------------


def job_probe(*, job_id: uuid.UUID | str, worker: str = "") -> str | None:
    """Find out what the upload really is. Returns "video", "image", or None if the job stopped."""

    def work(job: Job, workdir: Path) -> None:
        limits = ProbeLimits(
            max_duration_s=settings.MEDIA_MAX_DURATION_S,
            max_pixels=settings.MEDIA_MAX_PIXELS,
            max_frame_rate=settings.MEDIA_MAX_FRAME_RATE,
        )
        info = probe(_source(job, workdir), limits)
        Asset.objects.filter(pk=job.asset_id).update(kind=info.kind, probe=info.as_dict())

    if not _run_stage(job_id=job_id, stage=Status.PROBING, worker=worker, work=work):
        return None
    return Asset.objects.values_list("kind", flat=True).get(jobs__id=job_id)


def job_make_image_variants(*, job_id: uuid.UUID | str, worker: str = "") -> bool:
    """JPEG and WebP at each configured width, upright and stripped of metadata."""

    def work(job: Job, workdir: Path) -> None:
        asset = job.asset
        _require_kind(asset, IMAGE)
        source = _source(job, workdir)
        variants = image_ops.make_image_variants(
            source, workdir / "images", settings.MEDIA_IMAGE_WIDTHS, max_pixels=settings.MEDIA_MAX_PIXELS
        )
        keys = {v.name: storage.asset_key(storage.IMAGES, asset.id, v.name) for v in variants}
        for variant in variants:
            storage.upload_file(variant.path, keys[variant.name])
        for variant in variants:
            _record(
                job,
                Rendition.Kind.IMAGE,
                variant.name,
                keys[variant.name],
                width=variant.width,
                height=variant.height,
                size_bytes=variant.size_bytes,
                codec=variant.format,
            )

    return _run_stage(job_id=job_id, stage=Status.PROCESSING, worker=worker, work=work)


def job_finalize(*, job_id: uuid.UUID | str, worker: str = "") -> bool:
    """Check that the outputs a viewer needs are recorded, then mark the job ready (once)."""
    if not _job_advance(job_id=job_id, to=Status.FINALIZING, worker=worker):
        return False
    job = Job.objects.select_related("asset").get(pk=job_id)
    needed = (
        {Rendition.Kind.MP4, Rendition.Kind.HLS, Rendition.Kind.POSTER, Rendition.Kind.SPRITE}
        if job.asset.kind == VIDEO
        else {Rendition.Kind.IMAGE}
    )
    present = set(job.asset.renditions.values_list("kind", flat=True))
    if not quality_follows(job.asset.kind):  # else the quality task after this drops it
        source_cache_path(job.asset_id).unlink(missing_ok=True)
    shutil.rmtree(frames_cache_path(job.asset_id), ignore_errors=True)  # unused if thumbnails ran elsewhere
    if missing := needed - present:
        job_mark_failed(job_id=job_id, reason=f"Processing ended without {', '.join(sorted(missing))} output.")
        return False
    now = timezone.now()
    finished = Job.objects.filter(pk=job_id, status=Status.FINALIZING).update(
        status=Status.SUCCEEDED, progress=100, finished_at=now, updated_at=now
    )
    if finished:
        # The fault tests count this line: exactly one per job, however many deliveries.
        logger.info("job %s succeeded", job_id)
        events.publish(job_id=job_id, type=JobEvent.Type.SUCCEEDED, message="Ready.", worker=worker)
    return bool(finished)


def quality_follows(kind: str) -> bool:
    """Whether the job's chain ends with the SSIM measurement (services.quality), after finalize."""
    return kind == VIDEO and settings.MEDIA_SSIM_WINDOWS > 0


def _require_kind(asset: Asset, kind: str) -> None:
    if asset.kind != kind:
        raise UnsupportedMediaError(f"Expected {kind} content, found {asset.kind or 'nothing usable'}.")


def ffmpeg_timeout_s(duration_s: float | None) -> float:
    """How long one ffmpeg run over a source this long may take: 10× real time plus 10 minutes.

    Generous (the ladder runs at about 1.6× real time on 2 cores), so only a stuck
    ffmpeg hits it. The Celery stage limits (tasks.stage_time_limits) are built on
    this number, so ffmpeg's own timeout always comes first.
    """
    return 600 + 10 * (duration_s or 0)
