"""The worker registry: what each worker can do, and whether it is live."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from ..models import Worker
from ..pipeline.encoders import WorkerCapabilities


def worker_register(*, hostname: str, capabilities: WorkerCapabilities) -> Worker:
    now = timezone.now()
    worker, _ = Worker.objects.update_or_create(
        hostname=hostname[:255],
        defaults={
            "gpu_encoder": capabilities.gpu_encoder or "",
            "hw_decode": capabilities.hw_decode,
            "capabilities": capabilities.as_dict(),
            "started_at": now,
            "last_seen_at": now,
        },
    )
    return worker


def worker_heartbeat(*, hostname: str, capabilities: WorkerCapabilities) -> None:
    """Mark the worker live; re-register it if its row was pruned while it was quiet."""
    if not Worker.objects.filter(hostname=hostname).update(last_seen_at=timezone.now()):
        worker_register(hostname=hostname, capabilities=capabilities)


def worker_unregister(*, hostname: str) -> None:
    """A worker shutting down stops attracting GPU routing at once."""
    Worker.objects.filter(hostname=hostname).update(last_seen_at=None)


def worker_prune(*, older_than_s: int = 86400) -> int:
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    deleted, _ = Worker.objects.filter(
        Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True, started_at__lt=cutoff)
    ).delete()
    return deleted
