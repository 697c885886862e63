"""Presenting: the JSON, URLs and signed links that the pages, the API and the webhooks share.
Selectors find the objects; this shapes them for people and clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from ..models import Asset, Job, JobEvent, Rendition
from ..pipeline import eta
from ..pipeline.probe import MediaInfo
from ..pipeline.video import plan_ladder
from ..pipeline.waveform import WAVEFORM_SIZE
from ..processing.workflow import PLAYABLE_STAGE, PROGRESS_SPANS, plan
from . import captions as captions
from .captions import CAPTIONED as CAPTIONED
from .links import (
    PLAYBACK_THUMBS,
    asset_file_url,
    asset_title,
    playback_url,
    rendition_file_key,
    rendition_link,
)


def job_playable(*, job: Job | None) -> bool:
    """Whether a player may start on the asset's HLS: its first segments are stored and the
    master published (the ladder may still be encoding), and the job has not failed since."""
    return bool(job and job.playable_at and job.status not in (Job.Status.FAILED, Job.Status.CANCELLED))


def job_waiting_for(*, job: Job) -> str | None:
    """What a running job waits for ("storage", "disk", "database"), or None."""
    return (job.waiting_for or None) if not job.is_final else None


# What a job waits for, in words, where the code alone would not do.
WAITING_WORDS = {"disk": "disk space", "database": "the database"}


def job_stage(*, job: Job) -> str:
    """The stage as shown to people, e.g. "Transcoding (waiting for disk space)"."""
    waiting = job_waiting_for(job=job)
    words = WAITING_WORDS.get(waiting or "", waiting)
    return f"{job.get_status_display()} (waiting for {words})" if waiting else job.get_status_display()


def share_urls(*, asset: Asset) -> dict[str, str | None]:
    """The unlisted share page and its embed (None while not shared)."""
    if not asset.share_token:
        return {"share_url": None, "embed_url": None}
    return {
        "share_url": reverse("shared", args=[asset.share_token]),
        "embed_url": reverse("shared_embed", args=[asset.share_token]),
    }


EMBED_LONG_SIDE = 640


def embed_size(*, asset: Asset) -> tuple[int, int]:
    """The embed iframe's width and height: the picture's shape, EMBED_LONG_SIDE on its long side
    (16:9 while the shape is unknown), so a portrait video is not a strip with bars."""
    probe = asset.probe or {}
    width, height = probe.get("width") or 16, probe.get("height") or 9
    if asset.kind == Asset.Kind.AUDIO:  # its poster, the waveform
        width, height = WAVEFORM_SIZE
    scale = EMBED_LONG_SIDE / max(width, height)
    return round(width * scale), round(height * scale)


def shared_media(*, asset: Asset) -> dict[str, Any]:
    """What the share page and the embed show: links that work without an account."""
    renditions = list(asset.renditions.all())
    by_kind = {kind: [r for r in renditions if r.kind == kind] for kind in Rendition.Kind.values}
    for rendition in renditions:
        rendition.url = rendition_link(asset=asset, rendition=rendition, shared=True)
    return {
        "asset": asset,
        "title": asset_title(asset=asset),
        "playback_url": playback_url(asset=asset, shared=True) if by_kind[Rendition.Kind.HLS] else "",
        "sprite_vtt": playback_url(asset=asset, shared=True, name=PLAYBACK_THUMBS[0])
        if by_kind[Rendition.Kind.SPRITE]
        else "",
        "poster": by_kind[Rendition.Kind.POSTER][0] if by_kind[Rendition.Kind.POSTER] else None,
        "mp4": by_kind[Rendition.Kind.MP4],
        "m4a": by_kind[Rendition.Kind.M4A],
        "captions": [captions.caption_data(asset=asset, track=t, shared=True) for t in asset.captions.all()],
        "srcsets": image_srcsets(by_kind[Rendition.Kind.IMAGE]),
        "image": max(by_kind[Rendition.Kind.IMAGE], key=lambda r: r.width, default=None),
    }


def asset_card(*, asset: Asset) -> dict[str, Any]:
    """One item of My media: what it is called and looks like, how long and large, how far along.
    `asset` comes from selectors.asset_list_for (job status) and assets_with_previews (preview)."""
    preview = getattr(asset, "preview", None)
    duration = (asset.probe or {}).get("duration") if asset.kind in (Asset.Kind.VIDEO, Asset.Kind.AUDIO) else None
    running = asset.job_status not in (*Job.FINAL_STATUSES, None)
    return {
        "id": asset.id,
        "title": asset_title(asset=asset),
        "filename": asset.original_filename if asset.title else "",
        "kind": asset.get_kind_display() if asset.kind else "",
        "preview_url": asset_file_url(asset=asset, key=preview.storage_key) if preview else "",
        "duration": _clock(duration) if duration else "",
        "size_bytes": asset.size_bytes,
        "status": asset.job_status or "",
        "status_label": Job.Status(asset.job_status).label if asset.job_status else "",
        "progress": asset.job_progress or 0 if running else None,
        "created_at": asset.created_at,
    }


def _clock(seconds: float) -> str:
    """1:05, 12:00, 1:02:03."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def asset_brief(*, asset: Asset) -> dict[str, Any]:
    """What every view of an asset starts with: the API's summaries and the webhooks' payloads."""
    return {
        "id": str(asset.id),
        "title": asset_title(asset=asset),
        "filename": asset.original_filename,
        "kind": asset.kind or None,
        "size_bytes": asset.size_bytes,
    }


def job_brief(*, job: Job) -> dict[str, Any]:
    """A job in a webhook payload: where it is and how far."""
    return {
        "id": str(job.id),
        "status": job.status,
        "stage": job_stage(job=job),
        "progress": job.progress,
        "error": job.error or None,
    }


def job_status(*, job: Job) -> dict[str, Any]:
    targets = ladder_targets(job=job)  # a succeeded job's renditions are the ones it made
    return {
        "asset_id": str(job.asset_id),
        "job_id": str(job.id),
        "status": job.status,
        "stage": job_stage(job=job),
        "waiting_for": job_waiting_for(job=job),
        "progress": job.progress,
        "error": job.error or None,
        "is_final": job.is_final,
        "playable": job_playable(job=job),
        "playable_at": job.playable_at.isoformat() if job.playable_at else None,
        "playback_url": playback_url(asset=job.asset) if job_playable(job=job) else None,
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
        "ladder": job.ladder or {},
        "loudness": loudness_data(job=job),
        "renditions": [
            rendition_data(r, url=asset_file_url(asset=job.asset, key=rendition_file_key(r)), targets=targets)
            for r in (job.asset.renditions.all() if job.status == Job.Status.SUCCEEDED else ())
        ],
    }


def ladder_targets(*, job: Job | None) -> dict[str, float | None]:
    """The VMAF each rung of `job`'s ladder aimed at (Job.ladder, made by pipeline.pertitle), by
    rung name; {} for a job without that decision (before issue 30, or an image)."""
    rungs = (job.ladder or {}).get("rungs", []) if job else []
    return {rung["name"]: rung.get("target_vmaf") for rung in rungs if rung.get("name")}


def loudness_data(*, job: Job | None) -> dict[str, Any] | None:
    """The source's loudness and what was done to its sound (Job.loudness, made by
    processing.loudness) for the API, the status JSON and the page; None before it is measured,
    for a silent video and for images."""
    return dict(job.loudness) if job and job.loudness else None


def ladder_explained(*, job: Job | None) -> dict[str, Any] | None:
    """How `job` chose its ladder, for the page: the policy and why, and each rung left out with
    the reason; None for a job without that decision."""
    ladder = (job.ladder or {}) if job else {}
    if not ladder.get("policy"):
        return None
    return {
        "per_title": ladder["policy"] == "per-title",
        "reason": (ladder.get("reason") or "").rstrip("."),  # the page ends the sentence
        "dropped": [
            {"name": rung.get("name", ""), "reason": rung["dropped"]}
            for rung in ladder.get("rungs", [])
            if rung.get("dropped")
        ],
    }


def rendition_data(rendition: Rendition, *, url: str, targets: dict[str, float | None] | None = None) -> dict[str, Any]:
    """A rendition as the status JSON and the API show it; `targets`: ladder_targets of the job
    that made it."""
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
        "vmaf": r.vmaf,
        "target_vmaf": (targets or {}).get(r.profile) if r.kind == Rendition.Kind.MP4 else None,
        "url": url,
    }


def asset_renditions(*, asset: Asset, targets: dict[str, float | None] | None = None) -> dict[str, list[Rendition]]:
    """Renditions by kind, each with `url` (for pages: checked against the session when
    fetched) and `download_url` (short-lived, for the download links; for the manifests
    the playback link, which any player opens without the session); a video rung also with
    `target_vmaf`, from `targets` (ladder_targets of the job that made it)."""
    grouped: dict[str, list[Rendition]] = {kind: [] for kind in Rendition.Kind.values}
    for rendition in asset.renditions.all():
        rendition.url = asset_file_url(asset=asset, key=rendition_file_key(rendition))
        rendition.download_url = rendition_link(asset=asset, rendition=rendition)
        rendition.target_vmaf = (targets or {}).get(rendition.profile) if rendition.kind == Rendition.Kind.MP4 else None
        grouped[rendition.kind].append(rendition)
    return grouped


def poster_frame(*, renditions: list[Rendition]) -> str | None:
    """The name of the frame the poster is (None before the thumbnails, or for an image)."""
    posters = {r.storage_key for r in renditions if r.kind == Rendition.Kind.POSTER}
    return next((r.profile for r in renditions if r.kind == Rendition.Kind.FRAME and r.storage_key in posters), None)


def poster_frames(*, asset: Asset, renditions: dict[str, list[Rendition]]) -> list[dict[str, Any]]:
    """The poster's candidates for the page's chooser: where each was taken and whether it is the poster."""
    chosen = poster_frame(renditions=[*renditions[Rendition.Kind.POSTER], *renditions[Rendition.Kind.FRAME]])
    duration = (asset.probe or {}).get("duration") or 0.0
    percent = {r.profile: int(r.profile.rpartition("-")[2] or 0) for r in renditions[Rendition.Kind.FRAME]}
    return [
        {
            "name": r.profile,
            "url": r.url,
            "at": _clock(duration * percent[r.profile] / 100),
            "chosen": r.profile == chosen,
            "width": r.width,
            "height": r.height,
        }
        for r in sorted(renditions[Rendition.Kind.FRAME], key=lambda r: percent[r.profile])
    ]


def image_srcsets(renditions: list[Rendition]) -> dict[str, str]:
    """`srcset` values per format ("jpg", "webp") over an image's variants, smallest first."""
    sets: dict[str, list[str]] = {}
    for r in sorted(renditions, key=lambda r: r.width):
        sets.setdefault(r.profile.rsplit(".", 1)[-1], []).append(f"{r.url} {r.width}w")
    return {fmt: ", ".join(items) for fmt, items in sets.items()}


@dataclass(frozen=True)
class Step:
    label: str
    state: str  # "done", "current", "todo", "failed"


def job_timeline(*, job: Job) -> list[Step]:
    """uploaded → probing → transcoding → thumbnails → ready (or the image path), each with its state."""
    order = [Job.Status.QUEUED, *(Job.Status(s) for s in plan(job.asset.kind)), Job.Status.SUCCEEDED]
    labels = {Job.Status.QUEUED: "Uploaded", Job.Status.SUCCEEDED: "Ready"}
    if job.status == Job.Status.SUCCEEDED:
        return _with_playable_point(job, order, [Step(labels.get(s, s.label), "done") for s in order])
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
    return _with_playable_point(job, order, steps)


def _with_playable_point(job: Job, order: list[str], steps: list[Step]) -> list[Step]:
    """A video's "Playable" point, after the stage that makes it playable (workflow.PLAYABLE_STAGE):
    done from the moment a player may start, while the ladder is still being made."""
    if PLAYABLE_STAGE not in order:
        return steps
    done = job_playable(job=job) or job.status == Job.Status.SUCCEEDED
    steps.insert(order.index(PLAYABLE_STAGE) + 1, Step("Playable", "done" if done else "todo"))
    return steps


# The looks at a running stage's progress kept for its time-left guess: how many, and how long.
ETA_LOOKS, ETA_KEPT_S = 120, 3600


def job_eta_s(*, job: Job) -> float | None:
    """Seconds left in the running stage (None until it can be guessed), from the pace of its
    progress as the page sees it: each change is noted (in the cache) with the time it was first
    seen. Timed from the stage's start, the wait before the encode made it about 3 times too long."""
    span = PROGRESS_SPANS.get(job.status)
    if span is None:
        return None
    key, now = f"job-eta:{job.pk}:{job.status}", timezone.now().timestamp()
    looks = cache.get(key, [])
    if not looks or looks[-1][1] != job.progress:
        looks = [*looks, (now, job.progress)][-ETA_LOOKS:]
        cache.set(key, looks, ETA_KEPT_S)
    return eta.remaining_s(looks, now=now, end=span[1])


def asset_planned_renditions(*, asset: Asset, job: Job) -> list[dict[str, Any]]:
    """The ladder this video gets, rung by rung, with each rung's state (for the live page)."""
    if asset.kind != Asset.Kind.VIDEO or not asset.probe:
        return []
    made = {r.profile: r for r in asset.renditions.all() if r.kind == Rendition.Kind.MP4}
    dropped = {row["name"] for row in (job.ladder or {}).get("rungs", []) if row.get("dropped")}
    rows = []
    for rung in plan_ladder(MediaInfo.from_dict(asset.probe), settings.MEDIA_LADDER):
        if rung.name in made:
            state = "ready"
        elif rung.name in dropped:  # the ladder's analysis found it shows nothing better (job.ladder says why)
            state = "dropped"
        elif job.status == Job.Status.TRANSCODING:
            state = "encoding"
        elif job.is_final:
            state = "not made"
        else:
            state = "waiting"
        rows.append({"profile": rung.name, "width": rung.width, "height": rung.height, "state": state})
    return rows


def upload_accepted(*, job: Job, duplicate: bool, absolute: Callable[[str], str]) -> dict[str, Any]:
    """The answer to an accepted upload, from the API and the upload page alike (api.schemas.Accepted):
    it is followed at the API's asset. `absolute` makes the request's absolute URL of a path."""
    return {
        "asset_id": job.asset_id,
        "job_id": job.id,
        "status": job.status,
        "status_url": absolute(reverse("api-1:asset_get", args=[job.asset_id])),
        "correlation_id": job.correlation_id,
        "duplicate": duplicate,
    }
