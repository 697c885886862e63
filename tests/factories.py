"""Rows made the way the product makes them, for tests that need an asset without an encode."""

from __future__ import annotations

import io
from typing import Any

from media_tasks import services
from media_tasks.models import Asset, Job, Rendition


def video_with_frame(*, owner, job_status: str | None = None, **fields: Any) -> Asset:
    """One of `owner`'s videos, uploaded through the service (its job not sent: patch
    `media_tasks.tasks.job_enqueue`), with one frame the encode took (a poster candidate).
    `fields` are set on the asset; `job_status` on its job."""
    job = services.asset_create(owner=owner, fileobj=io.BytesIO(b"x" * 10), filename="clip.mp4", size_bytes=10).job
    Asset.objects.filter(pk=job.asset_id).update(kind=Asset.Kind.VIDEO, **fields)
    if job_status:
        Job.objects.filter(pk=job.id).update(status=job_status)
    Rendition.objects.create(
        asset_id=job.asset_id,
        kind=Rendition.Kind.FRAME,
        profile="frame-30",
        width=2,
        height=2,
        storage_key=f"thumbs/{job.asset_id}/frame-30.jpg",
    )
    return Asset.objects.get(pk=job.asset_id)
