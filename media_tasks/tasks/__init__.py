"""Celery interface: ids in, one call each. Retries live here; which stage runs next, in which
queue and for how long is the workflow's to say (processing.workflow)."""

from __future__ import annotations

import functools
import logging
import uuid
from typing import Any

from celery import Task, chain, chord, shared_task, signature
from celery.canvas import Signature
from django.conf import settings
from django.db import transaction
from django.dispatch import receiver

from .. import selectors, services
from ..models import JobEvent
from ..pipeline.encoders import CPU_ENCODER
from ..pipeline.exceptions import HardwareEncoderError
from ..processing import (
    chunked,
    finalize,
    images,
    posters,
    probe,
    quality,
    rescue,
    thumbnails,
    transcode,
    transitions,
    workflow,
)
from ..processing.workflow import Status
from ..services import uploads, webhooks
from ..services.posters import poster_due
from ..worker import local_capabilities
from .base import TRANSIENT_ERRORS, JobTask

logger = logging.getLogger(__name__)


def job_enqueue(*, job_id: uuid.UUID | str) -> None:
    """Start a job's chain, once the transaction that queued it has committed.

    A broker that is down must not fail the upload that was just stored: the job
    stays queued without `enqueued_at`, and `jobs_rescue` publishes it later.
    """
    try:
        # Publisher confirms: returns once RabbitMQ has it, or gives up after MEDIA_PUBLISH_TIMEOUT_S.
        probe_task.delay(str(job_id))
    except Exception:
        logger.exception("job %s: could not publish; jobs_rescue will retry", job_id)
        return
    transitions.job_mark_enqueued(job_id=job_id)


def on_job_event(event: JobEvent) -> None:
    """Subscribed at app start (apps.py): a job queued by a service is published after its commit,
    so a worker never looks for a row that is not there yet, and services need not know tasks."""
    if event.type == JobEvent.Type.QUEUED:
        transaction.on_commit(functools.partial(job_enqueue, job_id=event.job_id))


@shared_task(base=JobTask, bind=True, name=workflow.TASK_NAMES[Status.PROBING], stage_description="checking the file")
def probe_task(self: JobTask, job_id: str) -> None:
    kind = probe.job_probe(job_id=job_id, worker=self.request.hostname or "")
    if kind:
        chain_for(job_id, workflow.stages_from(kind, Status.PROBING, inclusive=False)).delay()


def _end_chain_if_deleted(task: Task, job_id: str) -> None:
    """The job went with its deleted item: the stages after this one have nothing to do. Celery
    reads the request's chain after the task returns, so none of them is sent."""
    if not selectors.job_exists(job_id=job_id):
        task.request.chain = None


def chain_for(job_id: str, stages: list[str]) -> Signature:
    """The Celery chain that runs these stages of the job, in the workflow's order."""
    duration = selectors.job_source_duration(job_id=job_id)
    return chain(*(_signature(stage, job_id, workflow.time_limits(stage, duration)) for stage in stages))


def _signature(stage: str, job_id: str, limits: dict[str, float]) -> Signature:
    if stage == Status.TRANSCODING:
        return _transcode_signature(job_id, limits)
    return signature(workflow.TASK_NAMES[stage], args=(job_id,), immutable=True).set(**limits)


def _transcode_signature(job_id: str, limits: dict[str, float] | None = None) -> Signature:
    """Routed by capability (workflow.transcode_queue). A long source becomes a chord: one task
    per chunk, on whichever workers are free, beside the lead rung (with the sound); then the join."""
    queue = workflow.transcode_queue(gpu_online=selectors.gpu_worker_online(), kind=selectors.job_kind(job_id=job_id))
    count = chunked.transcode_chunk_count(job_id=job_id)
    if not count:
        return transcode_task.si(job_id).set(queue=queue, routing_key=queue, **(limits or {}))
    cpu = workflow.cpu_queue()
    pieces = [
        transcode_chunk_task.si(job_id, index).set(queue=queue, routing_key=queue, **workflow.chunk_time_limits())
        for index in range(count)
    ]
    # The lead first: the first free worker takes it, and the video is playable a moment later.
    lead = transcode_lead_task.si(job_id).set(queue=cpu, routing_key=cpu, **(limits or {}))
    return chord([lead, *pieces], transcode_join_task.si(job_id).set(queue=cpu, routing_key=cpu))


@shared_task(base=JobTask, bind=True, name=workflow.TASK_NAMES[Status.TRANSCODING], stage_description="transcoding")
def transcode_task(self: JobTask, job_id: str, encoder: str | None = None) -> None:
    """`encoder` forces one (the CPU fallback names libx264); by default the worker's best."""
    capabilities = local_capabilities()
    chosen = encoder or capabilities.encoder
    try:
        transcode.job_transcode(
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
        transitions.job_note(
            job_id=job_id,
            message=f"{chosen} failed on this worker; the transcode moves to a CPU encoder.",
            worker=self.request.hostname or "",
        )
        cpu = workflow.cpu_queue()
        raise self.replace(transcode_task.si(job_id, encoder=CPU_ENCODER).set(queue=cpu, routing_key=cpu)) from exc
    _end_chain_if_deleted(self, job_id)


@shared_task(
    base=JobTask, bind=True, name="media_tasks.transcode_chunk", stage_description="transcoding", ignore_result=False
)
def transcode_chunk_task(self: JobTask, job_id: str, index: int) -> None:
    """One chunk of a chunked transcode; its (empty) result lets the chord count it."""
    capabilities = local_capabilities()
    chunked.job_transcode_chunk(
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
    chunked.job_transcode_audio(job_id=job_id, worker=self.request.hostname or "")


@shared_task(
    base=JobTask, bind=True, name="media_tasks.transcode_lead", stage_description="transcoding", ignore_result=False
)
def transcode_lead_task(self: JobTask, job_id: str) -> None:
    """The lead rung of a chunked transcode, over the whole source: the video plays from it early."""
    chunked.job_transcode_lead(job_id=job_id, worker=self.request.hostname or "")


@shared_task(base=JobTask, bind=True, name="media_tasks.transcode_join", stage_description="transcoding")
def transcode_join_task(self: JobTask, job_id: str) -> None:
    chunked.job_transcode_join(job_id=job_id, worker=self.request.hostname or "")
    _end_chain_if_deleted(self, job_id)


@shared_task(
    base=JobTask, bind=True, name=workflow.TASK_NAMES[Status.THUMBNAILING], stage_description="making thumbnails"
)
def thumbnails_task(self: JobTask, job_id: str) -> None:
    thumbnails.job_make_thumbnails(job_id=job_id, worker=self.request.hostname or "")
    _end_chain_if_deleted(self, job_id)


@shared_task(
    base=JobTask, bind=True, name=workflow.TASK_NAMES[Status.PROCESSING], stage_description="resizing the image"
)
def image_variants_task(self: JobTask, job_id: str) -> None:
    images.job_make_image_variants(job_id=job_id, worker=self.request.hostname or "")
    _end_chain_if_deleted(self, job_id)


@shared_task(base=JobTask, bind=True, name=workflow.TASK_NAMES[Status.FINALIZING], stage_description="finishing")
def finalize_task(self: JobTask, job_id: str) -> None:
    finalize.job_finalize(job_id=job_id, worker=self.request.hostname or "")
    _end_chain_if_deleted(self, job_id)


@shared_task(base=JobTask, bind=True, name=workflow.TASK_NAMES[workflow.QUALITY], stage_description="measuring quality")
def quality_task(self: JobTask, job_id: str) -> None:
    quality.job_measure_quality(job_id=job_id, worker=self.request.hostname or "")


@shared_task(name="media_tasks.worker_prune")
def worker_prune_task() -> None:
    services.worker_prune()


@shared_task(name="media_tasks.jobs_rescue")
def jobs_rescue_task() -> None:
    """Beat, every minute: publish jobs whose publish failed; resume jobs whose worker went silent.

    A resumed stage may also come back from RabbitMQ (if its worker's connection
    only now closes): both runs write the same keys and the job finishes once.
    """
    never_queued, stalled = rescue.jobs_needing_rescue()
    for job in never_queued:
        job_enqueue(job_id=job.id)
    for job in stalled:
        if stages := rescue.job_resume(job_id=job.id):
            logger.warning("job %s: its worker went silent in %s; running that stage again", job.id, job.status)
            chain_for(str(job.id), stages).delay()


@shared_task(name="media_tasks.uploads_abort_incomplete")
def uploads_abort_incomplete_task() -> None:
    """Hourly: direct uploads abandoned for a day, then any multipart upload S3 still holds (parts are billed)."""
    uploads.uploads_abort_incomplete(older_than_s=settings.MEDIA_MULTIPART_MAX_AGE_S)


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


@receiver(webhooks.delivery_due)
def on_delivery_due(sender: type, delivery_id: uuid.UUID | str, **kwargs: Any) -> None:
    webhook_deliver_task.delay(str(delivery_id))


@shared_task(name="media_tasks.webhooks_resend_stalled")
def webhooks_resend_stalled_task() -> None:
    """Beat: a delivery whose retry message was lost (a broker failure) is sent again."""
    for delivery_id in services.webhook_deliveries_stalled():
        webhook_deliver_task.delay(str(delivery_id))


# The owner's poster (services.posters): short, bounded ffmpeg or Pillow work on the default queue.
_POSTER_TASK = {
    "bind": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "max_retries": 5,
    "soft_time_limit": 180,
    "time_limit": 240,
}


@shared_task(name="media_tasks.poster_from_time", **_POSTER_TASK)
def poster_from_time_task(self: Task, asset_id: str, at: float) -> None:
    posters.asset_poster_from_time(asset_id=asset_id, at=at, worker=self.request.hostname or "")


@shared_task(name="media_tasks.poster_from_upload", **_POSTER_TASK)
def poster_from_upload_task(self: Task, asset_id: str, key: str) -> None:
    posters.asset_poster_from_upload(asset_id=asset_id, key=key, worker=self.request.hostname or "")


@receiver(poster_due)
def on_poster_due(sender: type, asset_id: uuid.UUID | str, at: float = 0.0, key: str = "", **kwargs: Any) -> None:
    """Publish the poster's task; a broker out of reach is the request's 503 (nothing was queued)."""
    try:
        if key:
            poster_from_upload_task.delay(str(asset_id), key)
        else:
            poster_from_time_task.delay(str(asset_id), at)
    except Exception as exc:
        logger.warning("asset %s: the poster's task could not be published: %s", asset_id, exc)
        raise services.ServiceError(
            "The workers' queue is out of reach; try again shortly.", code="queue_unavailable", status=503
        ) from exc
