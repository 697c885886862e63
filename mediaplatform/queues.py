"""The RabbitMQ queues of one deployment, named by its prefix (settings.CELERY_TASK_QUEUES)."""

from __future__ import annotations

from kombu import Exchange, Queue


def quorum_queue(name: str, *, delivery_limit: int, dead_letter: str, **arguments: object) -> Queue:
    """A durable quorum queue with a delivery limit.

    Quorum queues are replicated and count deliveries, so a poison message ends in
    the dead-letter queue instead of looping. The exchange is a topic exchange so
    that Celery's native delayed delivery (countdown retries on quorum queues) can
    route to it. RabbitMQ refuses to redeclare an existing queue with other
    arguments: delete the old queue before changing any of these.
    https://www.rabbitmq.com/docs/quorum-queues#poison-message-handling
    """
    arguments = {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": dead_letter,
        **arguments,
    }
    return Queue(
        name, Exchange(name, type="topic", durable=True), routing_key=name, durable=True, queue_arguments=arguments
    )


def task_queues(*, short: str, cpu: str, gpu: str, dead: str, delivery_limit: int, gpu_ttl_s: int) -> list[Queue]:
    """The short-task queue and the two transcode queues; past their limit, messages go to `dead`."""
    limits = {"delivery_limit": delivery_limit, "dead_letter": dead}
    return [
        quorum_queue(short, **limits),
        quorum_queue(cpu, **limits),
        # A queue has one dead-letter target: for the GPU queue it is the CPU queue, both
        # for the TTL and for the delivery limit (the CPU queue's own limit then applies).
        quorum_queue(
            gpu,
            delivery_limit=delivery_limit,
            dead_letter=cpu,
            **{"x-message-ttl": gpu_ttl_s * 1000, "x-dead-letter-routing-key": cpu},
        ),
    ]
