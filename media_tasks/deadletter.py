"""The dead-letter queue's consumer: a message RabbitMQ gave up on fails its job, with the reason.

A quorum queue dead-letters a message after MEDIA_DELIVERY_LIMIT deliveries (a task
that keeps killing its worker) to MEDIA_QUEUE_DEAD. The exchange and queue are
declared here, by every worker, rather than left to queue arguments: RabbitMQ drops a
message dead-lettered to an exchange nobody declared, without a trace. The messages
are read as data, never run as tasks.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps
from django.conf import settings
from kombu import Consumer, Exchange, Queue
from kombu.message import Message

from .processing import faults, runtime, transitions

logger = logging.getLogger(__name__)


def dead_letter_queue() -> Queue:
    name = settings.MEDIA_QUEUE_DEAD
    return Queue(
        name, Exchange(name, type="fanout", durable=True), durable=True, queue_arguments={"x-queue-type": "quorum"}
    )


def job_id_of(body: Any, headers: dict[str, Any]) -> str | None:
    """The job id of a Celery task message (protocol 2 body: [args, kwargs, embed])."""
    try:
        args, kwargs, _ = body
    except (TypeError, ValueError):
        return None
    return kwargs.get("job_id") or (args[0] if args else None)


def lost_to_workers(headers: dict[str, Any]) -> bool:
    """Whether the message hit the delivery limit: its workers kept stopping before they finished it."""
    deaths = headers.get("x-death") or []
    reason = headers.get("x-first-death-reason") or (deaths[0].get("reason") if deaths else "")
    return reason in ("delivery_limit", "rejected") or not reason


def dropped_reason(headers: dict[str, Any]) -> str:
    deaths = headers.get("x-death") or []
    count = sum(int(d.get("count", 1)) for d in deaths) if deaths else 0
    reason = headers.get("x-first-death-reason") or (deaths[0].get("reason") if deaths else "")
    return f"The job's message was dropped by the broker ({reason}, {count}×)."


def handle_dead_letter(body: Any, message: Message) -> None:
    headers = message.headers or {}
    task = headers.get("task", "?")
    job_id = job_id_of(body, headers)
    if job_id and task.startswith("media_tasks.") and task != "media_tasks.worker_prune":
        if lost_to_workers(headers):
            # The reason says what the job's history shows (processing.faults), not a guess.
            faults.job_fail_workers_lost(job_id=job_id, deliveries=f"more than {settings.MEDIA_DELIVERY_LIMIT}")
        else:
            transitions.job_mark_failed(job_id=job_id, reason=dropped_reason(headers))
        runtime.job_discard_local_copies(job_id=job_id)  # what this machine holds for it, if anything
        logger.error("dead-lettered %s for job %s", task, job_id)
    else:
        logger.error("dead-lettered message of task %s discarded", task)
    message.ack()


class DeadLetterConsumer(bootsteps.ConsumerStep):
    """Consumes MEDIA_QUEUE_DEAD beside the worker's task queues."""

    def get_consumers(self, channel: Any) -> list[Consumer]:
        return [Consumer(channel, queues=[dead_letter_queue()], callbacks=[handle_dead_letter], accept=["json"])]
