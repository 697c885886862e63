"""Celery interface: ids in, one service call each. Chains and retries live here.

Per asset: probe, then by what the probe found either
transcode → thumbnails → finalize (video) or image variants → finalize (image).
"""

from __future__ import annotations

import logging
import uuid

import botocore.exceptions
from celery import Task, chain, shared_task
from celery.canvas import Signature
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import selectors, services
from .pipeline.encoders import CPU_ENCODER
from .pipeline.exceptions import HardwareEncoderError
from .pipeline.probe import IMAGE, VIDEO
from .worker import local_capabilities

logger = logging.getLogger(__name__)

# Worth another try later: the storage or the database was briefly out of reach.
# Bad input never lands here; the services turn it into a failed job at once.
TRANSIENT_ERRORS = (
    ConnectionError,
    TimeoutError,
    botocore.exceptions.HTTPClientError,  # connection refused/reset, read timeouts
    OperationalError,
    InterfaceError,
)


class JobTask(Task):
    """A pipeline stage: retried with backoff on transient errors, failing the job if it gives up."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 120
    retry_jitter = True
    max_retries = 8
    stage_description = "processing the file"

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = kwargs.get("job_id") or (args[0] if args else None)
        if job_id:
            services.job_mark_internal_error(job_id=job_id, stage=self.stage_description)


def job_enqueue(*, job_id: uuid.UUID | str) -> None:
    """Start a job's chain. Call it from transaction.on_commit."""
    probe_task.delay(str(job_id))


@shared_task(base=JobTask, bind=True, name="media_tasks.probe", stage_description="checking the file")
def probe_task(self: JobTask, job_id: str) -> None:
    kind = services.job_probe(job_id=job_id, worker=self.request.hostname or "")
    if kind == VIDEO:
        chain(_transcode_signature(job_id), thumbnails_task.si(job_id), finalize_task.si(job_id)).delay()
    elif kind == IMAGE:
        chain(image_variants_task.si(job_id), finalize_task.si(job_id)).delay()


def _transcode_signature(job_id: str) -> Signature:
    """Route by capability: the GPU queue while a GPU worker is live, else the CPU queue.

    If every GPU worker then vanishes, RabbitMQ dead-letters the waiting message to
    the CPU queue after MEDIA_GPU_QUEUE_TTL_S (see settings).
    """
    gpu = selectors.gpu_worker_online()
    queue = settings.MEDIA_QUEUE_TRANSCODE_GPU if gpu else settings.MEDIA_QUEUE_TRANSCODE_CPU
    return transcode_task.si(job_id).set(queue=queue, routing_key=queue)


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
        cpu = settings.MEDIA_QUEUE_TRANSCODE_CPU
        raise self.replace(transcode_task.si(job_id, encoder=CPU_ENCODER).set(queue=cpu, routing_key=cpu)) from exc


@shared_task(base=JobTask, bind=True, name="media_tasks.thumbnails", stage_description="making thumbnails")
def thumbnails_task(self: JobTask, job_id: str) -> None:
    services.job_make_thumbnails(job_id=job_id, worker=self.request.hostname or "")


@shared_task(base=JobTask, bind=True, name="media_tasks.image_variants", stage_description="resizing the image")
def image_variants_task(self: JobTask, job_id: str) -> None:
    services.job_make_image_variants(job_id=job_id, worker=self.request.hostname or "")


@shared_task(base=JobTask, bind=True, name="media_tasks.finalize", stage_description="finishing")
def finalize_task(self: JobTask, job_id: str) -> None:
    services.job_finalize(job_id=job_id, worker=self.request.hostname or "")


@shared_task(name="media_tasks.worker_prune")
def worker_prune_task() -> None:
    services.worker_prune()
