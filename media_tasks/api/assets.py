"""Assets: create from a small file, list, retrieve, edit, delete, retry, cancel, re-encode."""
# No `from __future__ import annotations` in the API modules: django-ninja reads the annotations at run time.

import uuid

from django.http import HttpRequest
from django.urls import reverse
from ninja import File, Query, Router, Schema, Status
from ninja.errors import ValidationError
from ninja.files import UploadedFile
from ninja.pagination import PageNumberPagination, paginate

from .. import correlation, presenters, selectors, services
from ..forms import UploadForm
from ..models import Asset, Job, Rendition
from ..pipeline.identity import MPD
from ..services.errors import ServiceError
from ..services.uploads import upload_check_allowed
from .schemas import Accepted, AssetOut, AssetPatchIn, AssetSummary, Error, JobOut
from .uploads import ERRORS, IdempotencyKey, accepted

router = Router(tags=["assets"])


class AssetFilter(Schema):
    status: Job.Status | None = None
    kind: Asset.Kind | None = None


def _url(request: HttpRequest, asset_id: uuid.UUID) -> str:
    return request.build_absolute_uri(reverse("api-1:asset_get", args=[asset_id]))


def _summary(request: HttpRequest, asset: Asset, job: Job | None) -> dict:
    return {
        **presenters.asset_brief(asset=asset),
        "created_at": asset.created_at,
        "status": job.status if job else None,
        "progress": job.progress if job else 0,
        "url": _url(request, asset.id),
    }


@router.post(
    "",
    response={200: Accepted, 202: Accepted, **ERRORS},
    url_name="asset_create",
    summary="Upload a small file in one request",
)
def asset_create(request: HttpRequest, file: File[UploadedFile], idempotency_key: IdempotencyKey = None):
    """202 with the asset, its job and its status URL; 200 if the same bytes were uploaded before.
    Files larger than a few hundred MB should use the direct upload endpoints instead."""
    if not file.size:  # a field error like a missing file (422), before the checks that count uploads
        raise ValidationError([{"loc": ("file", "file"), "msg": "The submitted file is empty."}])
    upload_check_allowed(owner=request.user, size_bytes=file.size)
    form = UploadForm(files={"file": file})
    if not form.is_valid():
        raise ValidationError([{"loc": ("file", "file"), "msg": form.errors["file"][0]}])

    sha256 = services.file_sha256(file)

    def run() -> tuple[int, dict]:
        result = services.asset_create(
            owner=request.user,
            fileobj=file,
            filename=file.name or "upload",
            size_bytes=file.size,
            correlation_id=correlation.get(),
            sha256=sha256,
        )
        return (200 if result.duplicate else 202), accepted(request, result)

    return Status(
        *services.idempotent(
            owner=request.user,
            key=idempotency_key,
            operation="asset_create",
            request_data={"name": file.name, "size": file.size, "sha256": sha256},  # the bytes, not just the name
            run=run,
        )
    )


@router.get("", response={200: list[AssetSummary], **ERRORS}, url_name="asset_list")
@paginate(PageNumberPagination, page_size=20)
def asset_list(request: HttpRequest, filters: Query[AssetFilter]):
    assets = selectors.asset_list_for(user=request.user, status=filters.status, kind=filters.kind)
    return [{**_summary(request, a, None), "status": a.job_status, "progress": a.job_progress or 0} for a in assets]


@router.get("/{uuid:asset_id}", response={200: AssetOut, **ERRORS}, url_name="asset_get")
def asset_get(request: HttpRequest, asset_id: uuid.UUID):
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    job = asset.latest_job
    # HLS: a link players open as it is (no cookie), whose relative names stay under it.
    playback = request.build_absolute_uri(presenters.playback_url(asset=asset))
    # What each rung aimed at, from the job that made the renditions (a re-encode may be running).
    targets = presenters.ladder_targets(job=selectors.asset_result_job(asset=asset))
    link = presenters.links.rendition_link
    renditions = [
        presenters.rendition_data(r, url=request.build_absolute_uri(link(asset=asset, rendition=r)), targets=targets)
        for r in asset.renditions.all()
    ]
    # Before its HLS row exists (the ladder still encoding), once its first segments are stored.
    playable = presenters.job_playable(job=job) or any(r["kind"] == Rendition.Kind.HLS for r in renditions)
    # DASH: the static MPD, recorded at ready, under the same signed link as the HLS.
    dash = any(r["kind"] == Rendition.Kind.DASH for r in renditions)
    return {
        **_summary(request, asset, job),
        "description": asset.description,
        "alt_text": asset.alt_text,
        "original_url": request.build_absolute_uri(presenters.links.download_url(asset=asset, key=asset.original_key)),
        **{k: request.build_absolute_uri(v) if v else None for k, v in presenters.share_urls(asset=asset).items()},
        "embed_origins": asset.embed_origins,
        "job_id": job.id if job else None,
        "stage": presenters.job_stage(job=job) if job else None,
        "waiting_for": presenters.job_waiting_for(job=job) if job else None,
        "error": (job.error or None) if job else None,
        "retryable": bool(job and job.retryable and job.status in (Job.Status.FAILED, Job.Status.CANCELLED)),
        "correlation_id": job.correlation_id if job else None,
        "probe": asset.probe,
        "playable": playable,
        "playable_at": job.playable_at if job else None,
        "playback_url": playback if playable else None,
        "dash_url": request.build_absolute_uri(presenters.playback_url(asset=asset, name=MPD)) if dash else None,
        "poster_frame": presenters.poster_frame(renditions=list(asset.renditions.all())),
        "ladder": (job.ladder or {}) if job else {},
        "loudness": presenters.loudness_data(job=job),
        "renditions": renditions,
        "captions": [
            {**c, "url": request.build_absolute_uri(c["url"])}
            for c in (presenters.captions.caption_data(asset=asset, track=t) for t in asset.captions.all())
        ],
    }


@router.patch("/{uuid:asset_id}", response={200: AssetOut, **ERRORS}, url_name="asset_update")
def asset_update(request: HttpRequest, asset_id: uuid.UUID, changes: AssetPatchIn):
    """Set the title, description or alt text, share it, or choose its poster; the fields left
    out stay as they are."""
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    fields = changes.dict(exclude_unset=True)
    if (origins := fields.pop("embed_origins", None)) is not None:  # first: refused, nothing else changes
        services.asset_embed_origins_set(asset_id=asset.id, origins=origins)
    if (shared := fields.pop("shared", None)) is not None:
        services.asset_share(asset_id=asset.id, shared=shared)
    if (frame := fields.pop("poster", None)) is not None:
        services.asset_poster_choose(asset_id=asset.id, frame=frame)
    if (at := fields.pop("poster_time", None)) is not None:
        services.asset_poster_at(asset_id=asset.id, at=at)
    services.asset_update(asset_id=asset.id, **fields)
    return asset_get(request, asset_id)


@router.post(
    "/{uuid:asset_id}/poster",
    response={202: AssetOut, **ERRORS},
    url_name="asset_poster_upload",
    summary="Upload a picture as a video's poster",
)
def asset_poster_upload(request: HttpRequest, asset_id: uuid.UUID, image: File[UploadedFile] = None):
    """202: checked (JPEG, PNG, WebP or GIF; size and pixel limits, else `422` naming `image`) and
    stored; a worker makes it an upright JPEG and the `poster` rendition within seconds."""
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)  # another user's: 404 first
    if image is None or not image.size:
        raise ValidationError([{"loc": ("file", "image"), "msg": "Send the picture as the multipart field `image`."}])
    services.asset_poster_upload(asset_id=asset.id, fileobj=image, size_bytes=image.size)
    return Status(202, asset_get(request, asset_id))


@router.delete("/{uuid:asset_id}", response={204: None, **ERRORS}, url_name="asset_delete")
def asset_delete(request: HttpRequest, asset_id: uuid.UUID):
    """Stops its work and deletes the asset with every stored file."""
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    services.asset_delete(asset_id=asset.id)
    return Status(204, None)


def _job_out(job: Job) -> dict:
    return {"asset_id": job.asset_id, "job_id": job.id, "status": job.status}


@router.post("/{uuid:asset_id}/retry", response={202: JobOut, **ERRORS}, url_name="asset_retry")
def asset_retry(request: HttpRequest, asset_id: uuid.UUID):
    """A new job for an asset whose last job failed or was cancelled."""
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    return Status(202, _job_out(services.asset_retry(asset_id=asset.id)))


@router.post("/{uuid:asset_id}/reencode", response={202: JobOut, **ERRORS}, url_name="asset_reencode")
def asset_reencode(request: HttpRequest, asset_id: uuid.UUID):
    """Process again with the current ladder (after any finished job)."""
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    try:
        job = services.asset_reprocess(asset_id=asset.id)
    except ValueError as exc:
        raise ServiceError(str(exc), code="busy", status=409) from exc
    return Status(202, _job_out(job))


@router.post("/{uuid:asset_id}/cancel", response={200: JobOut, 409: Error, **ERRORS}, url_name="asset_cancel")
def asset_cancel(request: HttpRequest, asset_id: uuid.UUID):
    """Stops the running job (its ffmpeg too, within about a second)."""
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    job = asset.latest_job
    if job is None or not services.job_cancel(job_id=job.id, reason="Cancelled by its owner."):
        raise ServiceError("Nothing is running for this asset.", code="not_running", status=409)
    job.refresh_from_db()
    return _job_out(job)
