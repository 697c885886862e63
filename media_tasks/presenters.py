"""Presenting: the JSON, URLs and signed links that the pages, the API and the webhooks share.
Selectors find the objects; this shapes them for people and clients."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from . import storage
from .models import Asset, Job, JobEvent, Rendition
from .pipeline import eta
from .pipeline.probe import MediaInfo
from .pipeline.video import plan_ladder
from .processing.workflow import PLAYABLE_STAGE, PROGRESS_SPANS, plan

DOWNLOAD_SALT = "media_tasks.download"
PLAYBACK_SALT = "media_tasks.playback"


def asset_file_url(*, asset: Asset, key: str) -> str:
    """The URL our pages use for a stored file (ownership is checked when it is fetched)."""
    area, _, rest = key.split("/", 2)
    return reverse("asset_file", args=[asset.id, f"{area}/{rest}"])


def download_url(*, asset: Asset, key: str, shared: bool = False) -> str:
    """A short-lived URL anyone holding it may fetch: presigned S3 GET, or our signed link.

    For API clients and download links, which cannot rely on a browser session. `shared`: made
    for the shared page, so it dies with the share link: always our link, checked on each
    request (S3's presigned URLs cannot be revoked), which then sends the viewer on
    (file_redirect_url).
    """
    area, _, rest = key.split("/", 2)
    name = f"{area}/{rest}"
    if not shared and (url := storage.presigned_url(key, filename=download_name(asset=asset, name=name))):
        return url
    token = signing.dumps({"a": str(asset.id), "n": name, **_share(asset, shared)}, salt=DOWNLOAD_SALT)
    return reverse("file_signed", args=[token])


class SignedFile(NamedTuple):
    """A stored file a signed link names, and whether the link was made for a share (it dies with it)."""

    asset_id: uuid.UUID
    name: str  # download links: the public name (`renditions/720p.mp4`); playback links: the storage key
    shared: bool


def download_unsign(token: str) -> SignedFile:
    """The file a download_url token names; BadSignature if forged or expired,
    Asset.DoesNotExist if made for a share link that was turned off since."""
    data = signing.loads(token, salt=DOWNLOAD_SALT, max_age=settings.MEDIA_PRESIGNED_EXPIRY_S)
    _require_share(data)
    return SignedFile(uuid.UUID(data["a"]), data["n"], "s" in data)


def file_redirect_url(*, key: str, shared: bool, filename: str | None = None) -> str | None:
    """Where a signed link, once checked, sends the viewer on S3 (None on the filesystem: we
    stream it). For a shared link the presigned URL lives MEDIA_SHARED_REDIRECT_EXPIRY_S, the
    whole of what stopping sharing cannot take back at once."""
    expires_s = settings.MEDIA_SHARED_REDIRECT_EXPIRY_S if shared else None
    return storage.presigned_url(key, filename=filename, expires_s=expires_s)


def _share(asset: Asset, shared: bool) -> dict[str, str]:
    """What a link made for the shared page carries: the share secret it lives and dies with."""
    return {"s": asset.share_token} if shared and asset.share_token else {}


def _require_share(data: dict[str, Any]) -> None:
    if "s" in data and not Asset.objects.filter(pk=data["a"], share_token=data["s"]).exclude(share_token="").exists():
        raise Asset.DoesNotExist("sharing was turned off")


def playback_url(*, asset: Asset, shared: bool = False, name: str = "master.m3u8") -> str:
    """The HLS master playlist for players: `/play/<token>/master.m3u8`, valid for
    MEDIA_PLAYBACK_EXPIRY_S, for whoever holds it (no cookie). The playlists name their
    variants and segments relatively, so every file a player asks for stays under the
    signed prefix; the token names one asset of one owner and nothing else. `shared`: made for
    the shared page, so it stops working when sharing is turned off. `name`: another file under
    the same link (PLAYBACK_THUMBS)."""
    token = signing.dumps({"a": str(asset.id), "o": asset.owner_id, **_share(asset, shared)}, salt=PLAYBACK_SALT)
    return reverse("play", args=[token, name])


def playback_unsign(token: str) -> tuple[uuid.UUID, int]:
    """(asset id, owner id) from a playback_url token; BadSignature if forged, SignatureExpired if old."""
    data = _playback_data(token)
    return uuid.UUID(data["a"]), int(data["o"])


def _playback_data(token: str) -> dict[str, Any]:
    data = signing.loads(token, salt=PLAYBACK_SALT, max_age=settings.MEDIA_PLAYBACK_EXPIRY_S)
    _require_share(data)
    return data


# Besides the HLS, a playback link opens the scrubbing previews: the sprite's WebVTT map names
# its sheet relatively, so both stay under the link.
PLAYBACK_THUMBS = ("thumbs/sprite.vtt", "thumbs/sprite.jpg")


def playback_key(*, token: str, name: str) -> SignedFile:
    """The stored file named under a playback link (`name` is its storage key): the HLS, or PLAYBACK_THUMBS.

    BadSignature for a forged or expired token, Asset.DoesNotExist once the asset is gone (or
    its share, for a shared link), ValueError for any name that is not a file of that asset's
    HLS area (`..`, other areas).
    """
    data = _playback_data(token)
    asset = Asset.objects.only("id").get(pk=data["a"], owner_id=int(data["o"]))
    if name in PLAYBACK_THUMBS:
        return SignedFile(asset.id, storage.asset_key(storage.THUMBS, asset.id, name.partition("/")[2]), "s" in data)
    return SignedFile(asset.id, storage.asset_key(storage.HLS, asset.id, name), "s" in data)


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


def asset_title(*, asset: Asset) -> str:
    """What the owner called it, or else its file name."""
    return asset.title or asset.original_filename


def download_name(*, asset: Asset, name: str) -> str:
    """The name a downloaded file is saved under: its title, then the file (`My trip-720p.mp4`);
    the original keeps the name it was uploaded with."""
    if name.startswith(f"{storage.ORIGINALS}/"):
        return asset.original_filename
    stem = asset.title or asset.original_filename.rsplit(".", 1)[0]
    stem = "".join(ch for ch in stem if ch.isprintable() and ch not in '/\\"').strip()[:100] or "media"
    return f"{stem}-{name.rsplit('/', 1)[-1]}"


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
    scale = EMBED_LONG_SIDE / max(width, height)
    return round(width * scale), round(height * scale)


def shared_media(*, asset: Asset) -> dict[str, Any]:
    """What the share page and the embed show: links that work without an account."""
    renditions = list(asset.renditions.all())
    by_kind = {kind: [r for r in renditions if r.kind == kind] for kind in Rendition.Kind.values}
    for rendition in renditions:
        rendition.url = download_url(asset=asset, key=rendition.storage_key, shared=True)
    return {
        "asset": asset,
        "title": asset_title(asset=asset),
        "playback_url": playback_url(asset=asset, shared=True) if by_kind[Rendition.Kind.HLS] else "",
        "sprite_vtt": playback_url(asset=asset, shared=True, name=PLAYBACK_THUMBS[0])
        if by_kind[Rendition.Kind.SPRITE]
        else "",
        "poster": by_kind[Rendition.Kind.POSTER][0] if by_kind[Rendition.Kind.POSTER] else None,
        "mp4": by_kind[Rendition.Kind.MP4],
        "srcsets": image_srcsets(by_kind[Rendition.Kind.IMAGE]),
        "image": max(by_kind[Rendition.Kind.IMAGE], key=lambda r: r.width, default=None),
    }


def asset_card(*, asset: Asset) -> dict[str, Any]:
    """One item of My media: what it is called and looks like, how long and large, how far along.
    `asset` comes from selectors.asset_list_for (job status) and assets_with_previews (preview)."""
    preview = getattr(asset, "preview", None)
    duration = (asset.probe or {}).get("duration") if asset.kind == Asset.Kind.VIDEO else None
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
