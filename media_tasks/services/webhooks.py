"""Webhooks: a subscriber of the job event stream that delivers signed JSON to the owner's endpoints.

Signed like Stripe and Mux: `Webhook-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" under the endpoint's secret>`, so a receiver can check both who sent it
and that it is fresh. Sent by a Celery task with exponential backoff and full jitter
(https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/), every
attempt logged.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import math
import random
import secrets
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.dispatch import Signal
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .. import correlation, presenters
from ..models import Job, JobEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .errors import ServiceError
from .webhook_targets import check_target, require_public

logger = logging.getLogger(__name__)

# Sent after the commit that made a delivery due; the Celery interface connects the task that
# sends it (tasks.py), so this module needs no knowledge of tasks. Receives `delivery_id`.
delivery_due = Signal()

SIGNATURE_HEADER = "Webhook-Signature"
EVENT_TYPES = (
    "job.queued",
    "job.started",
    "job.stage",
    "job.progress",
    "job.playable",
    "job.succeeded",
    "job.failed",
    "job.cancelled",
)
_TYPE_OF = {
    JobEvent.Type.QUEUED: "job.queued",
    JobEvent.Type.STAGE: "job.stage",
    JobEvent.Type.PROGRESS: "job.progress",
    JobEvent.Type.PLAYABLE: "job.playable",
    JobEvent.Type.SUCCEEDED: "job.succeeded",
    JobEvent.Type.FAILED: "job.failed",
    JobEvent.Type.CANCELLED: "job.cancelled",
}
_EXCERPT = 500


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class _PublicOnly:
    """A urllib3 connection that checks the address it actually connected to, before TLS or
    a byte of HTTP: the name is resolved again to connect, and a DNS answer that changed
    since `check_target` (DNS rebinding) must not reach our own network. (Through an
    egress proxy the proxy connects, and only `check_target` applies.)"""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        if not settings.MEDIA_WEBHOOK_ALLOW_PRIVATE:
            try:
                require_public(sock.getpeername()[0])
            except ServiceError:
                sock.close()
                raise
        return sock


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = type("PublicHTTPConnection", (_PublicOnly, HTTPConnection), {})


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = type("PublicHTTPSConnection", (_PublicOnly, HTTPSConnection), {})


class _PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


def _send(url: str, **kwargs: object) -> tuple[int, str]:
    """POST through connections that check the address they reached (`_PublicOnly`);
    returns the status code and the start of the answer."""
    with requests.Session() as session:
        for scheme in ("http://", "https://"):
            session.mount(scheme, _PublicOnlyAdapter())
        with session.post(url, stream=True, **kwargs) as response:
            return response.status_code, response.raw.read(_EXCERPT, decode_content=True).decode("utf-8", "replace")


def webhook_endpoint_create(*, owner: AbstractBaseUser, url: str, events: list[str] | None = None) -> WebhookEndpoint:
    unknown = sorted(set(events or ()) - set(EVENT_TYPES))
    if unknown:
        raise ServiceError(f"Unknown event types: {', '.join(unknown)}.", code="invalid_events", field="events")
    target = check_target(url)
    return WebhookEndpoint.objects.create(
        owner=owner, url=target.url, secret="whsec_" + secrets.token_urlsafe(24), events=sorted(set(events or ()))
    )


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def _payload(event: JobEvent, job: Job, event_type: str) -> dict:
    return {
        "id": f"evt_{event.event_id.hex}",
        "type": event_type,
        "created_at": (event.created_at or timezone.now()).isoformat(),
        "correlation_id": job.correlation_id,
        "data": {
            "message": event.message,
            "asset": {
                **presenters.asset_brief(asset=job.asset),
                "captions": [presenters.captions.caption_brief(t) for t in job.asset.captions.all()],
            },
            "job": presenters.job_brief(job=job),
        },
    }


def webhook_on_event(event: JobEvent) -> None:
    """The event-stream subscriber: one delivery per interested endpoint, sent after commit."""
    event_type = _TYPE_OF.get(event.type)
    if event_type is None:
        return
    if event_type == "job.stage" and event.stage == Job.Status.PROBING and "again" not in event.message:
        event_type = "job.started"
    job = Job.objects.select_related("asset").get(pk=event.job_id)
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(owner_id=job.asset.owner_id, is_active=True)
        if not endpoint.events or event_type in endpoint.events
    ]
    payload = _payload(event, job, event_type) if endpoints else None
    for endpoint in endpoints:
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event_id=payload["id"], event_type=event_type, payload=payload
        )
        # robust: a broker that refuses the publish must not fail the request that committed;
        # webhooks_resend_stalled sends the delivery later.
        due = functools.partial(delivery_due.send, sender=WebhookDelivery, delivery_id=delivery.pk)
        transaction.on_commit(due, robust=True)


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool
    # Seconds until the next attempt; None when there is none (delivered, or given up).
    retry_in: int | None = None


def backoff_s(attempt: int) -> int:
    """Full jitter: uniform in [1, min(cap, base·2^(attempt-1))] whole seconds.

    At least one second: RabbitMQ's delayed delivery counts whole seconds, and a
    countdown of 0 is refused by Celery.
    """
    ceiling = min(settings.MEDIA_WEBHOOK_BACKOFF_MAX_S, settings.MEDIA_WEBHOOK_BACKOFF_BASE_S * 2 ** (attempt - 1))
    return max(1, math.ceil(random.uniform(0, ceiling)))  # noqa: S311 (spreading retries, not a secret)


def webhook_deliveries_stalled() -> list[uuid.UUID]:
    """Pending deliveries nobody is going to send (their retry message was lost): beat resends them.

    A scheduled retry waits at most MEDIA_WEBHOOK_BACKOFF_MAX_S, so one quiet for
    longer than that plus five minutes has no message left in the broker.
    """
    quiet_since = timezone.now() - timedelta(seconds=settings.MEDIA_WEBHOOK_BACKOFF_MAX_S + 300)
    pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, created_at__lt=quiet_since)
    recent = WebhookAttempt.objects.filter(delivery=OuterRef("pk"), created_at__gte=quiet_since)
    return list(pending.exclude(Exists(recent)).values_list("pk", flat=True)[:500])


def webhook_deliver(*, delivery_id: uuid.UUID | str) -> DeliveryOutcome:
    """One attempt at sending a delivery; says whether and when to try again."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if delivery.status != WebhookDelivery.Status.PENDING:
        return DeliveryOutcome(delivered=delivery.status == WebhookDelivery.Status.SUCCEEDED)
    correlation.bind(delivery.payload.get("correlation_id"))
    number = delivery.attempts + 1
    started = time.monotonic()
    status_code, excerpt, error = _attempt(delivery)
    latency_ms = int((time.monotonic() - started) * 1000)
    delivered = status_code is not None and 200 <= status_code < 300
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=number,
        status_code=status_code,
        latency_ms=latency_ms,
        response_excerpt=excerpt,
        error=error or ("" if delivered else f"HTTP {status_code}"),
    )
    if delivered:
        status = WebhookDelivery.Status.SUCCEEDED
    elif number >= settings.MEDIA_WEBHOOK_MAX_ATTEMPTS:
        status = WebhookDelivery.Status.FAILED
    else:
        status = WebhookDelivery.Status.PENDING
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=number, status=status, delivered_at=timezone.now() if delivered else None
    )
    outcome = status_code or error
    logger.info(
        "webhook %s %s to %s: attempt %d → %s in %d ms",
        *(delivery.event_id, delivery.event_type, delivery.endpoint.url, number, outcome, latency_ms),
    )
    if status == WebhookDelivery.Status.PENDING:
        return DeliveryOutcome(delivered=False, retry_in=backoff_s(number))
    return DeliveryOutcome(delivered=delivered)


def _attempt(delivery: WebhookDelivery) -> tuple[int | None, str, str]:
    """POST the signed payload once: (status code, response excerpt, error)."""
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "mediaplatform-webhooks/1",
        SIGNATURE_HEADER: sign(secret=delivery.endpoint.secret, timestamp=int(time.time()), body=body),
        "Webhook-Id": delivery.event_id,
        "X-Correlation-ID": delivery.payload.get("correlation_id", ""),
    }
    try:
        target = check_target(delivery.endpoint.url)  # again now: DNS may have changed since it was saved
        timeout = (settings.MEDIA_WEBHOOK_CONNECT_TIMEOUT_S, settings.MEDIA_WEBHOOK_READ_TIMEOUT_S)
        status_code, excerpt = _send(target.url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except ServiceError as exc:
        return None, "", exc.message
    except requests.RequestException as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:1000]
    return status_code, excerpt, ""


def webhook_redeliver(*, delivery_id: uuid.UUID | str) -> None:
    """Send a delivery again from the first attempt (admin action), keeping its log."""
    WebhookDelivery.objects.filter(pk=delivery_id).update(status=WebhookDelivery.Status.PENDING, attempts=0)
    transaction.on_commit(functools.partial(delivery_due.send, sender=WebhookDelivery, delivery_id=delivery_id))
