"""Reads: what a user may see, and the status a page or API client polls."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Lower, NullIf
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from . import storage
from .models import Asset, CaptionTrack, Job, Rendition, Upload, UploadLog, Worker
from .processing import quality, workflow

# How My media may be sorted: the choice's name → the ordering.
ASSET_ORDERS = {
    "newest": ("-created_at",),
    "oldest": ("created_at",),
    "title": (Lower(Coalesce(NullIf("title", Value("")), "original_filename")), "-created_at"),
    "size": ("-size_bytes", "-created_at"),
}


def with_latest_job(assets: QuerySet[Asset]) -> QuerySet[Asset]:
    """`assets` annotated with their latest job's status and progress (`job_status`, `job_progress`)."""
    latest = Job.objects.filter(asset=OuterRef("pk")).order_by("-created_at")
    return assets.annotate(
        job_status=Subquery(latest.values("status")[:1]), job_progress=Subquery(latest.values("progress")[:1])
    )


def asset_list_for(
    *,
    user: AbstractBaseUser,
    status: str | None = None,
    kind: str | None = None,
    search: str = "",
    order: str = "newest",
) -> QuerySet[Asset]:
    """The user's assets (newest first unless `order` says otherwise: ASSET_ORDERS), each
    annotated with its latest job's status and progress; `search` looks in titles and file names."""
    assets = with_latest_job(Asset.objects.filter(owner=user))
    if status:
        assets = assets.filter(job_status=status)
    if kind:
        assets = assets.filter(kind=kind)
    if term := search.strip():
        assets = assets.filter(Q(title__icontains=term) | Q(original_filename__icontains=term))
    return assets.order_by(*ASSET_ORDERS.get(order, ASSET_ORDERS["newest"]))


def assets_with_previews(*, assets: list[Asset]) -> list[Asset]:
    """The same assets with their poster or smallest image variant loaded (one query for all)."""
    previews = Rendition.objects.filter(asset__in=assets, kind__in=(Rendition.Kind.POSTER, Rendition.Kind.IMAGE))
    best: dict = {}
    for rendition in previews.order_by("width"):
        if rendition.kind == Rendition.Kind.POSTER or rendition.profile.endswith(".jpg"):
            best.setdefault(rendition.asset_id, rendition)
    for asset in assets:
        asset.preview = best.get(asset.id)
    return assets


def job_exists(*, job_id: uuid.UUID | str) -> bool:
    """False once the job went with its deleted item."""
    return Job.objects.filter(pk=job_id).exists()


def job_source_duration(*, job_id: uuid.UUID | str) -> float | None:
    """How long the job's source lasts, as probed (None before the probe or for an image)."""
    return Asset.objects.values_list("probe__duration", flat=True).get(jobs__id=job_id)


def job_kind(*, job_id: uuid.UUID | str) -> str:
    """What the job's source is, as probed ("video", "audio", "image"; "" before the probe or for
    no such job)."""
    return Asset.objects.filter(jobs__id=job_id).values_list("kind", flat=True).first() or ""


def asset_get_for(*, user: AbstractBaseUser, asset_id: uuid.UUID) -> Asset:
    """The user's own asset, or 404: someone else's is indistinguishable from a missing one."""
    return get_object_or_404(Asset, pk=asset_id, owner=user)


def asset_get_shared(*, token: str) -> Asset:
    """The asset shared under this link and ready to watch, or 404 (revoked, unknown, not ready)."""
    if not token:
        raise Http404
    asset = get_object_or_404(Asset, share_token=token)
    if not asset.jobs.filter(status=Job.Status.SUCCEEDED).exists():
        raise Http404
    return asset


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
    changes = (
        job.pk,
        job.status,
        job.progress,
        job.updated_at.timestamp(),
        last_event,
        asset.renditions.count(),
        job_queue_position(job=job),  # moves as the jobs ahead start
    )
    return "-".join(map(str, changes))


def quality_pending(*, job: Job | None) -> bool:
    """Whether the SSIM or VMAF of a ready video is still to come: its measurement follows the job
    and has not reported (processing.quality notes either way), within the measurement's time limit."""
    if job is None or job.status != Job.Status.SUCCEEDED or not workflow.quality_follows(job.asset.kind):
        return False
    if job.events.filter(stage=workflow.QUALITY).exists():
        return False
    if not job.asset.renditions.filter(quality.unmeasured(), kind=Rendition.Kind.MP4).exists():
        return False
    limit = workflow.time_limits(workflow.QUALITY, (job.asset.probe or {}).get("duration"))["time_limit"]
    return job.finished_at is not None and timezone.now() < job.finished_at + timedelta(seconds=limit)


def asset_renditions_etag(*, asset: Asset) -> str:
    """Changes when a rendition's SSIM or VMAF is measured, or the measurement stops being awaited."""
    mp4 = asset.renditions.filter(kind=Rendition.Kind.MP4).order_by("profile")
    return f"{quality_pending(job=asset.latest_job)}-{list(mp4.values_list('profile', 'ssim', 'vmaf'))}"


def asset_list_etag(*, user: AbstractBaseUser) -> str:
    jobs = Job.objects.filter(asset__owner=user).aggregate(Max("updated_at"), Count("id"))
    assets = Asset.objects.filter(owner=user).aggregate(Max("updated_at"), Count("id"))
    return "-".join(str(v.timestamp() if hasattr(v, "timestamp") else v) for v in (*jobs.values(), *assets.values()))


def job_queue_position(*, job: Job) -> int | None:
    """How many jobs wait ahead of this queued one (everyone's: the workers take them in order);
    None once it has started."""
    if job.status != Job.Status.QUEUED:
        return None
    return Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=job.created_at).count()


def asset_result_job(*, asset: Asset) -> Job | None:
    """The job that made the renditions the asset has now: its latest that succeeded."""
    return asset.jobs.filter(status=Job.Status.SUCCEEDED).order_by("-created_at").first()


def asset_has_earlier_result(*, asset: Asset) -> bool:
    """Whether an earlier job made this asset ready, its files still there (a later re-encode
    that failed or was cancelled leaves them)."""
    return asset.jobs.filter(status=Job.Status.SUCCEEDED).exists() and asset.renditions.exists()


def caption_tracks_for(*, asset_id: uuid.UUID | str) -> list[CaptionTrack]:
    """An asset's caption tracks, by language."""
    return list(CaptionTrack.objects.filter(asset_id=asset_id).order_by("language"))
