"""Reads: what a user may see, and the status a page or API client polls."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.utils import timezone

from . import storage
from .models import Asset, Job, Upload, UploadLog, Worker


def asset_list_for(*, user: AbstractBaseUser, status: str | None = None, kind: str | None = None) -> QuerySet[Asset]:
    """The user's assets, newest first, each annotated with its latest job's status and progress."""
    latest = Job.objects.filter(asset=OuterRef("pk")).order_by("-created_at")
    assets = Asset.objects.filter(owner=user).annotate(
        job_status=Subquery(latest.values("status")[:1]),
        job_progress=Subquery(latest.values("progress")[:1]),
    )
    if status:
        assets = assets.filter(job_status=status)
    if kind:
        assets = assets.filter(kind=kind)
    return assets


def job_source_duration(*, job_id: uuid.UUID | str) -> float | None:
    """How long the job's source lasts, as probed (None before the probe or for an image)."""
    return Asset.objects.values_list("probe__duration", flat=True).get(jobs__id=job_id)


def asset_get_for(*, user: AbstractBaseUser, asset_id: uuid.UUID) -> Asset:
    """The user's own asset, or 404: someone else's is indistinguishable from a missing one."""
    return get_object_or_404(Asset, pk=asset_id, owner=user)


def asset_file_key(*, asset: Asset, name: str) -> str:
    """Map a public name like `renditions/720p.mp4` to the storage key of that asset's file."""
    area, _, rest = name.partition("/")
    return storage.asset_key(area, asset.id, rest)


def gpu_worker_online() -> bool:
    """Is a worker with a working hardware encoder live (heard from recently)?"""
    since = timezone.now() - timedelta(seconds=settings.MEDIA_WORKER_STALE_S)
    return Worker.objects.exclude(gpu_encoder="").filter(last_seen_at__gte=since).exists()


def uploads_in_last_minute(*, user: AbstractBaseUser) -> int:
    """Uploads begun in the last minute, form and direct ones, whether their assets still exist or not."""
    return UploadLog.objects.filter(owner=user, created_at__gte=timezone.now() - timedelta(minutes=1)).count()


def upload_get_for(*, user: AbstractBaseUser, upload_id: uuid.UUID) -> Upload:
    return get_object_or_404(Upload, pk=upload_id, owner=user)


def asset_live_etag(*, asset: Asset) -> str:
    """Changes whenever anything the live status shows changes (job row, events, renditions)."""
    job = asset.latest_job
    if job is None:
        return f"{asset.pk}-none"
    last_event = job.events.aggregate(Max("id"))["id__max"]
    changes = (job.pk, job.status, job.progress, job.updated_at.timestamp(), last_event, asset.renditions.count())
    return "-".join(map(str, changes))


def asset_list_etag(*, user: AbstractBaseUser) -> str:
    jobs = Job.objects.filter(asset__owner=user).aggregate(Max("updated_at"), Count("id"))
    assets = Asset.objects.filter(owner=user).aggregate(Max("updated_at"), Count("id"))
    return "-".join(str(v.timestamp() if hasattr(v, "timestamp") else v) for v in (*jobs.values(), *assets.values()))
