"""Celery interface: ids in, one service call each. Chains and retries live here.

Per asset: probe, then by what the probe found either
transcode → thumbnails → finalize (video) or image variants → finalize (image).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import botocore.exceptions
import kombu.exceptions
from celery import Task, chain, chord, shared_task
from celery.canvas import Signature
from celery.exceptions import Retry, SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import selectors, services, storage
from .models import Asset, Job
from .pipeline.encoders import CPU_ENCODER
from .pipeline.exceptions import EncoderKilled, HardwareEncoderError
from .pipeline.probe import VIDEO
from .publishing import BoundedPublishTask
from .services.jobs import ffmpeg_timeout_s
from .services.uploads import uploads_abort_stale
from .worker import local_capabilities

logger = logging.getLogger(__name__)

# Worth another try later: the storage or the database was briefly out of reach.
# Bad input never lands here; the services turn it into a failed job at once.
TRANSIENT_ERRORS = (
    ConnectionError,  # includes storage.StorageUnavailable (S3 unreachable or 5xx)
    EncoderKilled,  # ffmpeg died by a signal not ours (the OOM killer): not the file's fault
    TimeoutError,
    botocore.exceptions.ConnectionError,  # S3 calls made outside storage.py's transfers
    botocore.exceptions.HTTPClientError,
    kombu.exceptions.OperationalError,  # a broker hiccup while publishing the next stage
    OperationalError,
    InterfaceError,
)


class JobTask(BoundedPublishTask):
    """A pipeline stage: retried with backoff on transient errors, failing the job if it gives up.

    Storage out of reach is the exception to the bounded count: retried for as long as the
    outage lasts, up to MEDIA_STORAGE_OUTAGE_MAX_S, while the job says it waits for storage.
    """

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = settings.MEDIA_TASK_RETRY_BACKOFF_MAX_S
    retry_jitter = True
    max_retries = settings.MEDIA_TASK_MAX_RETRIES
    stage_description = "processing the file"

    def retry(self, *args: Any, exc: BaseException | None = None, **options: Any) -> Retry:
        job_id = _job_id(self.request.args, self.request.kwargs)
        if job_id and isinstance(exc, storage.StorageUnavailable):
            if services.job_wait_for_storage(job_id=job_id, stage=self.stage_description):
                options["countdown"] = get_exponential_backoff_interval(
                    factor=2,
                    retries=self.request.retries,
                    maximum=settings.MEDIA_STORAGE_RETRY_BACKOFF_MAX_S,
                    full_jitter=True,  # storage coming back is not met by every waiting job at once
                )
                options["max_retries"] = self.request.retries + 1  # no count: the outage's length decides
            else:
                options["max_retries"] = 0  # over MEDIA_STORAGE_OUTAGE_MAX_S: re-raised, on_failure says why
        elif job_id and isinstance(exc, EncoderKilled) and self.request.retries < self.max_retries:
            services.job_note_encoder_killed(
                job_id=job_id, stage=self.stage_description, signal=exc.signal, worker=self.request.hostname or ""
            )
        try:
            return super().retry(*args, exc=exc, **options)
        finally:  # Celery keeps an explicit max_retries on the (shared) task object otherwise
            self.__dict__.pop("override_max_retries", None)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = _job_id(args, kwargs)
        if not job_id:
            return
        stage = self.stage_description
        if isinstance(exc, SoftTimeLimitExceeded):
            reason = f"{stage.capitalize()} took longer than allowed for this file."
            services.job_mark_failed(job_id=job_id, reason=reason)
        elif isinstance(exc, storage.StorageUnavailable):
            services.job_fail_storage_gone(job_id=job_id, stage=stage)
        elif isinstance(exc, EncoderKilled):
            services.job_fail_encoder_killed(job_id=job_id, stage=stage, tries=self.request.retries + 1)
        else:
            services.job_mark_internal_error(job_id=job_id, stage=stage)
        services.job_discard_local_copies(job_id=job_id)


def _job_id(args: Any, kwargs: Any) -> str | None:
    return (kwargs or {}).get("job_id") or (args[0] if args else None)


def stage_time_limits(duration_s: float | None) -> dict[str, float]:
    """Celery soft/hard limits for a stage over a source this long.

    ffmpeg's own timeout plus 5 minutes for download, packaging and uploads, so the
    soft limit only catches a stage stuck outside ffmpeg. RabbitMQ's consumer_timeout
    must exceed the hard limit for the longest source allowed (MEDIA_MAX_DURATION_S),
    or the broker closes the channel of a long transcode (README, "Never lose work,
    let nothing in"; deploy/rabbitmq.conf).
    """
    soft = ffmpeg_timeout_s(duration_s) + 300
    return {"soft_time_limit": soft, "time_limit": soft + 120}


def job_enqueue(*, job_id: uuid.UUID | str) -> None:
    """Start a job's chain. Called from transaction.on_commit.

    A broker that is down must not fail the upload that was just stored: the job
    stays queued without `enqueued_at`, and `jobs_rescue` publishes it later.
    """
    try:
        # Publisher confirms: returns once RabbitMQ has it, or gives up after MEDIA_PUBLISH_TIMEOUT_S.
        probe_task.delay(str(job_id))
    except Exception:
        logger.exception("job %s: could not publish; jobs_rescue will retry", job_id)
        return
    services.job_mark_enqueued(job_id=job_id)


@shared_task(
    base=JobTask,
    bind=True,
    name="media_tasks.probe",
    stage_description="checking the file",
    soft_time_limit=600,
    time_limit=720,
)
def probe_task(self: JobTask, job_id: str) -> None:
    kind = services.job_probe(job_id=job_id, worker=self.request.hostname or "")
    if kind:
        _stages_after(kind, job_id, Job.Status.PROBING).delay()


def _stages_after(kind: str, job_id: str, status: str) -> Signature:
    """The chain that finishes a job whose stage `status` is next to run (or to run again)."""
    limits = stage_time_limits(Asset.objects.values_list("probe__duration", flat=True).get(jobs__id=job_id))
    Status = Job.Status
    stages = []
    if kind == VIDEO:
        if status in (Status.PROBING, Status.TRANSCODING):
            stages.append(_transcode_signature(job_id).set(**limits))
        if status in (Status.PROBING, Status.TRANSCODING, Status.THUMBNAILING):
            stages.append(thumbnails_task.si(job_id).set(**limits))
    elif status in (Status.PROBING, Status.PROCESSING):
        stages.append(image_variants_task.si(job_id))
    stages.append(finalize_task.si(job_id))
    if services.quality_follows(kind):  # after the job is ready: nobody waits for the figure
        stages.append(quality_task.si(job_id).set(**limits))
    return chain(*stages)


def _transcode_signature(job_id: str) -> Signature:
    """Route by capability: the GPU queue while a GPU worker is live, else the CPU queue.

    If every GPU worker then vanishes, RabbitMQ dead-letters the waiting message to
    the CPU queue after MEDIA_GPU_QUEUE_TTL_S (see settings). A long source becomes a
    chord: one task per chunk, on whichever workers are free, then the join.
    """
    gpu = selectors.gpu_worker_online()
    queue = settings.MEDIA_QUEUE_TRANSCODE_GPU if gpu else settings.MEDIA_QUEUE_TRANSCODE_CPU
    count = services.transcode_chunk_count(job_id=job_id)
    if not count:
        return transcode_task.si(job_id).set(queue=queue, routing_key=queue)
    chunk_limits = stage_time_limits(settings.MEDIA_CHUNK_SECONDS)
    cpu = settings.MEDIA_QUEUE_TRANSCODE_CPU
    pieces = [
        transcode_chunk_task.si(job_id, index).set(queue=queue, routing_key=queue, **chunk_limits)
        for index in range(count)
    ]
    sound = transcode_audio_task.si(job_id).set(queue=cpu, routing_key=cpu)
    return chord([*pieces, sound], transcode_join_task.si(job_id).set(queue=cpu, routing_key=cpu))


@shared_task(base=JobTask, bind=True, name="media_tasks.transcode", stage_description="transcoding")
def transcode_task(self: JobTask, job_id: str, encoder: str | None = None) -> None:
    """`encoder` forces one (the CPU fallback names libx264); by default the worker's best."""
    capabilities = local_capabilities()
    chosen = encoder or capabilities.encoder
    try:
        services.job_transcode(
            job_id=job_id,
            worker=self.request.hostname or "",
            encoder=chosen,
            hw_decode=capabilities.hw_decode and encoder is None,
        )
    except HardwareEncoderError as exc:
        # The GPU failed, not the file: the same stage goes to the CPU queue, and
        # replace() keeps the rest of the chain (thumbnails, finalize) behind it.
        logger.warning(
            "job %s: %s failed on %s (%s); handing it to the CPU queue", job_id, chosen, self.request.hostname, exc
        )
        services.job_note(
            job_id=job_id,
            message=f"{chosen} failed on this worker; the transcode moves to a CPU encoder.",
            worker=self.request.hostname or "",
        )
        cpu = settings.MEDIA_QUEUE_TRANSCODE_CPU
        raise self.replace(transcode_task.si(job_id, encoder=CPU_ENCODER).set(queue=cpu, routing_key=cpu)) from exc


@shared_task(
    base=JobTask, bind=True, name="media_tasks.transcode_chunk", stage_description="transcoding", ignore_result=False
)
def transcode_chunk_task(self: JobTask, job_id: str, index: int) -> None:
    """One chunk of a chunked transcode; its (empty) result lets the chord count it."""
    capabilities = local_capabilities()
    services.job_transcode_chunk(
        job_id=job_id,
        index=index,
        worker=self.request.hostname or "",
        encoder=capabilities.encoder,
        hw_decode=capabilities.hw_decode,
    )


@shared_task(
    base=JobTask, bind=True, name="media_tasks.transcode_audio", stage_description="transcoding", ignore_result=False
)
def transcode_audio_task(self: JobTask, job_id: str) -> None:
    services.job_transcode_audio(job_id=job_id, worker=self.request.hostname or "")


@shared_task(base=JobTask, bind=True, name="media_tasks.transcode_join", stage_description="transcoding")
def transcode_join_task(self: JobTask, job_id: str) -> None:
    services.job_transcode_join(job_id=job_id, worker=self.request.hostname or "")


@shared_task(base=JobTask, bind=True, name="media_tasks.thumbnails", stage_description="making thumbnails")
def thumbnails_task(self: JobTask, job_id: str) -> None:
    services.job_make_thumbnails(job_id=job_id, worker=self.request.hostname or "")


@shared_task(base=JobTask, bind=True, name="media_tasks.image_variants", stage_description="resizing the image")
def image_variants_task(self: JobTask, job_id: str) -> None:
    services.job_make_image_variants(job_id=job_id, worker=self.request.hostname or "")


@shared_task(base=JobTask, bind=True, name="media_tasks.finalize", stage_description="finishing")
def finalize_task(self: JobTask, job_id: str) -> None:
    services.job_finalize(job_id=job_id, worker=self.request.hostname or "")


@shared_task(base=JobTask, bind=True, name="media_tasks.quality", stage_description="measuring quality")
def quality_task(self: JobTask, job_id: str) -> None:
    services.job_measure_quality(job_id=job_id, worker=self.request.hostname or "")


@shared_task(name="media_tasks.worker_prune")
def worker_prune_task() -> None:
    services.worker_prune()


@shared_task(name="media_tasks.jobs_rescue")
def jobs_rescue_task() -> None:
    """Beat, every minute: publish jobs whose publish failed; resume jobs whose worker went silent.

    A resumed stage may also come back from RabbitMQ (if its worker's connection
    only now closes): both runs write the same keys and the job finishes once.
    """
    never_queued, stalled = services.jobs_needing_rescue()
    for job in never_queued:
        job_enqueue(job_id=job.id)
    for job in stalled:
        if not services.job_resume(job_id=job.id):
            continue
        logger.warning("job %s: its worker went silent in %s; running that stage again", job.id, job.status)
        if job.status == Job.Status.PROBING:
            probe_task.delay(str(job.id))
        else:
            _stages_after(job.asset.kind, str(job.id), job.status).delay()


@shared_task(name="media_tasks.uploads_abort_incomplete")
def uploads_abort_incomplete_task() -> None:
    """Hourly: direct uploads abandoned for a day, then any multipart upload S3 still holds (parts are billed)."""
    uploads_abort_stale(older_than_s=settings.MEDIA_MULTIPART_MAX_AGE_S)
    storage.abort_incomplete_uploads(older_than_s=settings.MEDIA_MULTIPART_MAX_AGE_S)


@shared_task(
    bind=True,
    name="media_tasks.webhook_deliver",
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=None,
    soft_time_limit=60,
    time_limit=90,
)
def webhook_deliver_task(self: Task, delivery_id: str) -> None:
    """One attempt; the next one is scheduled with the service's backoff (a countdown on RabbitMQ)."""
    outcome = services.webhook_deliver(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)  # whole seconds ≥ 1 (RabbitMQ delayed delivery)


@shared_task(name="media_tasks.webhooks_resend_stalled")
def webhooks_resend_stalled_task() -> None:
    """Beat: a delivery whose retry message was lost (a broker failure) is sent again."""
    for delivery_id in services.webhook_deliveries_stalled():
        webhook_deliver_task.delay(str(delivery_id))
