"""Reads: what a user may see, and the status a page or API client polls."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from . import storage
from .models import Asset, Job, Rendition, Worker


def asset_list_for(*, user: AbstractBaseUser) -> QuerySet[Asset]:
    return Asset.objects.filter(owner=user).prefetch_related("jobs")


def asset_get_for(*, user: AbstractBaseUser, asset_id: uuid.UUID) -> Asset:
    """The user's own asset, or 404: someone else's is indistinguishable from a missing one."""
    return get_object_or_404(Asset, pk=asset_id, owner=user)


def asset_file_key(*, asset: Asset, name: str) -> str:
    """Map a public name like `renditions/720p.mp4` to the storage key of that asset's file."""
    area, _, rest = name.partition("/")
    return storage.asset_key(area, asset.id, rest)


def asset_file_url(*, asset: Asset, key: str) -> str:
    """The URL our pages use for a stored file (ownership is checked when it is fetched)."""
    area, _, rest = key.split("/", 2)
    return reverse("asset_file", args=[asset.id, f"{area}/{rest}"])


def job_status(*, job: Job) -> dict[str, Any]:
    return {
        "asset_id": str(job.asset_id),
        "job_id": str(job.id),
        "status": job.status,
        "stage": job.get_status_display(),
        "progress": job.progress,
        "error": job.error or None,
        "is_final": job.is_final,
        "kind": job.asset.kind or None,
        "updated_at": job.updated_at.isoformat(),
        "events": [
            {
                "at": e.created_at.isoformat(),
                "type": e.type,
                "stage": e.stage,
                "message": e.message,
                "worker": e.worker_hostname,
            }
            for e in job.events.all()
        ],
        "renditions": [
            {
                "kind": r.kind,
                "profile": r.profile,
                "width": r.width,
                "height": r.height,
                "bitrate": r.bitrate,
                "size_bytes": r.size_bytes,
                "codec": r.codec,
                "encoder": r.encoder,
                "worker": r.worker_hostname,
                "url": asset_file_url(asset=job.asset, key=r.storage_key),
            }
            for r in (job.asset.renditions.all() if job.status == Job.Status.SUCCEEDED else ())
        ],
    }


def asset_renditions(*, asset: Asset) -> dict[str, list[Rendition]]:
    grouped: dict[str, list[Rendition]] = {kind: [] for kind in Rendition.Kind.values}
    for rendition in asset.renditions.all():
        rendition.url = asset_file_url(asset=asset, key=rendition.storage_key)
        grouped[rendition.kind].append(rendition)
    return grouped


def gpu_worker_online() -> bool:
    """Is a worker with a working hardware encoder live (heard from recently)?"""
    since = timezone.now() - timedelta(seconds=settings.MEDIA_WORKER_STALE_S)
    return Worker.objects.exclude(gpu_encoder="").filter(last_seen_at__gte=since).exists()


def uploads_in_last_minute(*, user: AbstractBaseUser) -> int:
    return Asset.objects.filter(owner=user, created_at__gte=timezone.now() - timedelta(minutes=1)).count()
