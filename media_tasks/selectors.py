"""Reads: what a user may see, and the status a page or API client polls."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db.models import Count, Max, OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from . import storage
from .models import Asset, Job, JobEvent, Rendition, Upload, UploadLog, Worker
from .pipeline.probe import MediaInfo
from .pipeline.video import plan_ladder

DOWNLOAD_SALT = "media_tasks.download"
PLAYBACK_SALT = "media_tasks.playback"


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


def download_url(*, asset: Asset, key: str) -> str:
    """A short-lived URL anyone holding it may fetch: presigned S3 GET, or our signed link.

    For API clients and download links, which cannot rely on a browser session.
    """
    if url := storage.presigned_url(key):
        return url
    area, _, rest = key.split("/", 2)
    token = signing.dumps({"a": str(asset.id), "n": f"{area}/{rest}"}, salt=DOWNLOAD_SALT)
    return reverse("file_signed", args=[token])


def download_unsign(token: str) -> tuple[uuid.UUID, str]:
    """(asset id, file name) from a download_url token; BadSignature if forged or expired."""
    data = signing.loads(token, salt=DOWNLOAD_SALT, max_age=settings.MEDIA_PRESIGNED_EXPIRY_S)
    return uuid.UUID(data["a"]), data["n"]


def playback_url(*, asset: Asset) -> str:
    """The HLS master playlist for players: `/play/<token>/master.m3u8`, valid for
    MEDIA_PLAYBACK_EXPIRY_S, for whoever holds it (no cookie). The playlists name their
    variants and segments relatively, so every file a player asks for stays under the
    signed prefix; the token names one asset of one owner and nothing else."""
    token = signing.dumps({"a": str(asset.id), "o": asset.owner_id}, salt=PLAYBACK_SALT)
    return reverse("play", args=[token, "master.m3u8"])


def playback_unsign(token: str) -> tuple[uuid.UUID, int]:
    """(asset id, owner id) from a playback_url token; BadSignature if forged, SignatureExpired if old."""
    data = signing.loads(token, salt=PLAYBACK_SALT, max_age=settings.MEDIA_PLAYBACK_EXPIRY_S)
    return uuid.UUID(data["a"]), int(data["o"])


def playback_key(*, token: str, name: str) -> str:
    """The storage key of an HLS file named under a playback link.

    BadSignature for a forged or expired token, Asset.DoesNotExist once the asset is gone,
    ValueError for any name that is not a file of that asset's HLS area (`..`, other areas).
    """
    asset_id, owner_id = playback_unsign(token)
    asset = Asset.objects.only("id").get(pk=asset_id, owner_id=owner_id)
    return storage.asset_key(storage.HLS, asset.id, name)


def job_waiting_for(*, job: Job) -> str | None:
    """What a running job waits for ("storage"), or None."""
    return (job.waiting_for or None) if not job.is_final else None


def job_stage(*, job: Job) -> str:
    """The stage as shown to people, e.g. "Transcoding (waiting for storage)"."""
    waiting = job_waiting_for(job=job)
    return f"{job.get_status_display()} (waiting for {waiting})" if waiting else job.get_status_display()


def job_status(*, job: Job) -> dict[str, Any]:
    return {
        "asset_id": str(job.asset_id),
        "job_id": str(job.id),
        "status": job.status,
        "stage": job_stage(job=job),
        "waiting_for": job_waiting_for(job=job),
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
            rendition_data(r, url=asset_file_url(asset=job.asset, key=r.storage_key))
            for r in (job.asset.renditions.all() if job.status == Job.Status.SUCCEEDED else ())
        ],
    }


def rendition_data(rendition: Rendition, *, url: str) -> dict[str, Any]:
    """A rendition as the status JSON and the API show it."""
    r = rendition
    return {
        "kind": r.kind,
        "profile": r.profile,
        "width": r.width,
        "height": r.height,
        "bitrate": r.bitrate,
        "size_bytes": r.size_bytes,
        "codec": r.codec,
        "encoder": r.encoder,
        "worker": r.worker_hostname,
        "ssim": r.ssim,
        "url": url,
    }


def asset_renditions(*, asset: Asset) -> dict[str, list[Rendition]]:
    """Renditions by kind, each with `url` (for pages: checked against the session when
    fetched) and `download_url` (short-lived, for the download links; for HLS the
    playback link, which any player opens without the session)."""
    grouped: dict[str, list[Rendition]] = {kind: [] for kind in Rendition.Kind.values}
    for rendition in asset.renditions.all():
        rendition.url = asset_file_url(asset=asset, key=rendition.storage_key)
        if rendition.kind == Rendition.Kind.HLS:
            rendition.download_url = playback_url(asset=asset)
        else:
            rendition.download_url = download_url(asset=asset, key=rendition.storage_key)
        grouped[rendition.kind].append(rendition)
    return grouped


def image_srcsets(renditions: list[Rendition]) -> dict[str, str]:
    """`srcset` values per format ("jpg", "webp") over an image's variants, smallest first."""
    sets: dict[str, list[str]] = {}
    for r in sorted(renditions, key=lambda r: r.width):
        sets.setdefault(r.profile.rsplit(".", 1)[-1], []).append(f"{r.url} {r.width}w")
    return {fmt: ", ".join(items) for fmt, items in sets.items()}


def gpu_worker_online() -> bool:
    """Is a worker with a working hardware encoder live (heard from recently)?"""
    since = timezone.now() - timedelta(seconds=settings.MEDIA_WORKER_STALE_S)
    return Worker.objects.exclude(gpu_encoder="").filter(last_seen_at__gte=since).exists()


def uploads_in_last_minute(*, user: AbstractBaseUser) -> int:
    """Uploads begun in the last minute, form and direct ones, whether their assets still exist or not."""
    return UploadLog.objects.filter(owner=user, created_at__gte=timezone.now() - timedelta(minutes=1)).count()


def upload_get_for(*, user: AbstractBaseUser, upload_id: uuid.UUID) -> Upload:
    return get_object_or_404(Upload, pk=upload_id, owner=user)


@dataclass(frozen=True)
class Step:
    label: str
    state: str  # "done", "current", "todo", "failed"


_VIDEO_STEPS = (Job.Status.PROBING, Job.Status.TRANSCODING, Job.Status.THUMBNAILING, Job.Status.FINALIZING)
_IMAGE_STEPS = (Job.Status.PROBING, Job.Status.PROCESSING, Job.Status.FINALIZING)


def job_timeline(*, job: Job) -> list[Step]:
    """uploaded → probing → transcoding → thumbnails → ready (or the image path), each with its state."""
    stages = _IMAGE_STEPS if job.asset.kind == Asset.Kind.IMAGE else _VIDEO_STEPS
    if job.asset.kind == "":
        stages = (Job.Status.PROBING,)
    order = [Job.Status.QUEUED, *stages, Job.Status.SUCCEEDED]
    labels = {Job.Status.QUEUED: "Uploaded", Job.Status.SUCCEEDED: "Ready"}
    if job.status == Job.Status.SUCCEEDED:
        return [Step(labels.get(s, s.label), "done") for s in order]
    # Where it stopped, for a failed or cancelled job: the last stage it entered.
    reached = job.status
    if job.is_final:
        entered = [e.stage for e in job.events.all() if e.type == JobEvent.Type.STAGE]
        reached = entered[-1] if entered else Job.Status.QUEUED
    position = order.index(reached) if reached in order else 0
    steps = []
    for index, status in enumerate(order):
        if index < position or (index == position and status == Job.Status.QUEUED and not job.is_final):
            state = "done"
        elif index == position:
            state = "failed" if job.is_final else "current"
        else:
            state = "todo"
        steps.append(Step(labels.get(status, status.label), state))
    return steps


def job_eta_s(*, job: Job) -> float | None:
    """Seconds left in the running stage, from its progress so far (None until it can be guessed)."""
    from .services.jobs import PROGRESS_SPANS

    span = PROGRESS_SPANS.get(job.status)
    started = next(
        (e.created_at for e in reversed(job.events.all()) if e.type == JobEvent.Type.STAGE and e.stage == job.status),
        None,
    )
    if span is None or started is None:
        return None
    fraction = (job.progress - span[0]) / max(1, span[1] - span[0])
    if fraction < 0.03:
        return None
    elapsed = (timezone.now() - started).total_seconds()
    return max(0.0, elapsed * (1 - fraction) / fraction)


def asset_planned_renditions(*, asset: Asset, job: Job) -> list[dict[str, Any]]:
    """The ladder this video gets, rung by rung, with each rung's state (for the live page)."""
    if asset.kind != Asset.Kind.VIDEO or not asset.probe:
        return []
    made = {r.profile: r for r in asset.renditions.all() if r.kind == Rendition.Kind.MP4}
    rows = []
    for rung in plan_ladder(MediaInfo.from_dict(asset.probe), settings.MEDIA_LADDER):
        if rung.name in made:
            state = "ready"
        elif job.status == Job.Status.TRANSCODING:
            state = "encoding"
        elif job.is_final:
            state = "not made"
        else:
            state = "waiting"
        rows.append({"profile": rung.name, "width": rung.width, "height": rung.height, "state": state})
    return rows


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
