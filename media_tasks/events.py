"""The one internal event stream of jobs: publish() records a JobEvent and tells the subscribers.

The status page and admin read the recorded events; webhooks subscribe here (see
MediaTasksConfig.ready) and metrics read the recorded stream, rather than each
hooking into the services themselves (publish-subscribe).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from django.utils import timezone

from .models import JobEvent

logger = logging.getLogger(__name__)

Subscriber = Callable[[JobEvent], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Register a callable that receives every published event (usable as a decorator)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def unsubscribe(subscriber: Subscriber) -> None:
    if subscriber in _subscribers:
        _subscribers.remove(subscriber)


def publish(
    *, job_id: uuid.UUID | str, type: str, stage: str = "", message: str = "", worker: str = "", record: bool = True
) -> JobEvent:
    """Record the event in the job's history (unless `record` is False: progress ticks) and hand it on."""
    event = JobEvent(job_id=job_id, type=type, stage=stage, message=message[:2000], worker_hostname=worker[:255])
    if record:
        event.save()
    else:
        event.created_at = timezone.now()
    for subscriber in list(_subscribers):
        try:
            subscriber(event)
        except Exception:  # one subscriber's failure must not fail the job or the others
            logger.exception("event subscriber %r failed on %s", subscriber, event)
    return event
