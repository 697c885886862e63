"""Publishing with a bound: nobody (a web request above all) waits on a broker that does not answer.

A RabbitMQ under a memory alarm keeps connections open and stops reading from publishers;
with publisher confirms, a publish then waits for ever for its confirm (measured: a web
request held past a 90 s client timeout). Every task publishes through BoundedPublishTask,
the app's task class (mediaplatform/celery.py): the write and the confirm wait at most
MEDIA_PUBLISH_TIMEOUT_S, and a pooled connection found stale (a broker restart) is replaced
once, at once, while that time lasts. A job whose publish failed stays queued without
`enqueued_at` and `jobs_rescue` publishes it later; a stage that fails to publish the next
one is retried by Celery like any broker hiccup.
"""

from __future__ import annotations

import time
from typing import Any

from celery import Task
from django.conf import settings


def publish_retry_policy(budget_s: float) -> dict[str, Any]:
    """kombu's retry policy for one publish: one reconnect, and none once `budget_s` has passed."""
    deadline = time.monotonic() + budget_s

    def give_up_past_deadline(exc: BaseException, interval: float) -> None:
        # kombu calls this before each reconnect (and each wait between connection attempts).
        if time.monotonic() + interval >= deadline:
            raise exc

    return {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.5,
        "interval_max": 0.5,
        "errback": give_up_past_deadline,
    }


class BoundedPublishTask(Task):
    """A task whose apply_async/delay gives up after about MEDIA_PUBLISH_TIMEOUT_S."""

    def apply_async(
        self,
        args: Any = None,
        kwargs: Any = None,
        task_id: str | None = None,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        shadow: str | None = None,
        **options: Any,
    ):
        budget = settings.MEDIA_PUBLISH_TIMEOUT_S
        options.setdefault("timeout", budget)  # the socket write and the wait for the confirm
        options.setdefault("retry_policy", publish_retry_policy(budget))
        return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)
