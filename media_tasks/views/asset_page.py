"""An item's page: the viewer first (player, title), the processing folded under Details,
and the owner's commands on it (edit, poster, retry, cancel)."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .. import presenters, selectors, services
from ..forms import AssetDetailsForm, CaptionForm, PosterForm, PosterImageForm, PosterTimeForm
from ..models import Asset, Job, Rendition
from ..processing import workflow
from . import login_required_or_401, unchanged_or

# The page's parts htmx asks for again: the job's progress every second until it ends, then
# the renditions table until its SSIM and VMAF are measured (they come after "Ready").
_FRAGMENTS = {
    "live": ("media_tasks/_asset_live.html", selectors.asset_live_etag),
    "renditions": ("media_tasks/_renditions_table.html", selectors.asset_renditions_etag),
}


@login_required_or_401
@require_GET
def asset_detail(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    if fragment := _FRAGMENTS.get(request.GET.get("fragment", "")):
        # An unchanged part costs a few small queries and a 304, no rendering.
        template, etag = fragment
        return unchanged_or(request, etag(asset=asset), lambda: render(request, template, _detail_context(asset)))
    return render(request, "media_tasks/asset_detail.html", _detail_context(asset))


def _detail_context(asset: Asset) -> dict:
    job = asset.latest_job
    made_by = selectors.asset_result_job(asset=asset)  # the job whose renditions these are
    renditions = presenters.asset_renditions(asset=asset, targets=presenters.ladder_targets(job=made_by))
    return {
        "asset": asset,
        "title": presenters.asset_title(asset=asset),
        "details_form": AssetDetailsForm(instance=asset),
        "poster_time_form": PosterTimeForm(),
        "poster_image_form": PosterImageForm(),
        "caption_form": CaptionForm(),
        "captions": [presenters.captions.caption_data(asset=asset, track=t) for t in asset.captions.all()],
        "share": presenters.share_urls(asset=asset),
        "embed_size": presenters.embed_size(asset=asset),
        "original_url": presenters.links.download_url(asset=asset, key=asset.original_key),
        "job": job,
        "timeline": presenters.job_timeline(job=job) if job else [],
        "eta": presenters.job_eta_s(job=job) if job and not job.is_final else None,
        "ahead": selectors.job_queue_position(job=job) if job else None,
        # A re-encode that failed or was cancelled does not hide the version made before it.
        "show_result": bool(job)
        and (job.status == Job.Status.SUCCEEDED or (job.is_final and selectors.asset_has_earlier_result(asset=asset))),
        "planned": presenters.asset_planned_renditions(asset=asset, job=job) if job else [],
        "renditions": renditions,
        "frames": presenters.poster_frames(asset=asset, renditions=renditions),
        "measuring": selectors.quality_pending(job=job),
        "ladder": presenters.ladder_explained(job=made_by),
        "loudness": presenters.loudness_data(job=made_by),
        "srcsets": presenters.image_srcsets(renditions[Rendition.Kind.IMAGE]),
        # The HLS link while the ladder is still being made (the player before the job is ready).
        "early_playback": presenters.playback_url(asset=asset) if presenters.job_playable(job=job) else None,
        "ladder_stored": " ".join(workflow.LADDER_STORED),
    }


def _refused(request: HttpRequest, asset: Asset, **context) -> HttpResponse:
    """The page again (400), with the refused form or the reason in `context`."""
    return render(request, "media_tasks/asset_detail.html", {**_detail_context(asset), **context}, status=400)


@login_required_or_401
@require_POST
def asset_edit(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    form = AssetDetailsForm(request.POST, instance=asset)
    if not form.is_valid():
        return _refused(request, asset, details_form=form)
    services.asset_update(asset_id=asset.id, **{name: form.cleaned_data[name] for name in form.fields})
    messages.info(request, "Saved.")
    return redirect("asset_detail", asset_id=asset.id)


@login_required_or_401
@require_POST
def asset_poster(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    form = PosterForm(request.POST)
    if not form.is_valid():
        return _refused(request, asset, poster_error=f"Frame: {' '.join(form.errors['frame'])}")
    try:
        services.asset_poster_choose(asset_id=asset.id, frame=form.cleaned_data["frame"])
    except services.ServiceError as exc:
        return _refused(request, asset, poster_error=exc.message)
    messages.info(request, "The poster is changed.")
    return redirect("asset_detail", asset_id=asset.id)


def _poster_refused(request: HttpRequest, asset: Asset, form: forms.Form) -> HttpResponse:
    field, errors = next(iter(form.errors.items()))
    label = {"poster_time": "Time", "image": "Picture"}.get(field, field)
    return _refused(request, asset, poster_error=f"{label}: {' '.join(errors)}")


@login_required_or_401
@require_POST
def asset_poster_time(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    """The frame at the moment typed, taken by a worker (the poster changes in seconds)."""
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    form = PosterTimeForm(request.POST)
    if form.is_valid() and form.cleaned_data["poster_time"] is None:
        form.add_error("poster_time", "Type the moment to take, e.g. 1:15.")
    if not form.is_valid():
        return _poster_refused(request, asset, form)
    at = form.cleaned_data["poster_time"]
    try:
        services.asset_poster_at(asset_id=asset.id, at=at)
    except services.ServiceError as exc:
        form.add_error("poster_time", exc.message)
        return _poster_refused(request, asset, form)
    moment = f"{int(at) // 60}:{int(at) % 60:02d}"
    messages.info(request, f"The frame at {moment} is being taken: it becomes the poster in a few seconds.")
    return redirect("asset_detail", asset_id=asset.id)


@login_required_or_401
@require_POST
def asset_poster_image(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    """An uploaded picture, made the poster by a worker (upright JPEG, no side over 1280)."""
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    form = PosterImageForm(request.POST, request.FILES)
    if not form.is_valid():
        return _poster_refused(request, asset, form)
    image = form.cleaned_data["image"]
    try:
        services.asset_poster_upload(asset_id=asset.id, fileobj=image, size_bytes=image.size)
    except services.ServiceError as exc:
        form.add_error("image", exc.message)
        return _poster_refused(request, asset, form)
    messages.info(request, "Your picture is being made the poster: it shows in a few seconds.")
    return redirect("asset_detail", asset_id=asset.id)


@login_required_or_401
@require_POST
def asset_caption_add(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    """A caption track from an SRT or WebVTT file (one per language: a second replaces the first)."""
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    form = CaptionForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            track = services.caption_track_add(
                asset_id=asset.id,
                language=form.cleaned_data["language"],
                label=form.cleaned_data["label"],
                fileobj=upload,
                size_bytes=upload.size,
            )
        except services.ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    if not form.is_valid():
        return _refused(request, asset, caption_form=form)
    messages.info(request, f"Captions in {track.label or track.language} added: {track.cues} cues.")
    return redirect(reverse("asset_detail", args=[asset.id]) + "#captions")


@login_required_or_401
@require_POST
def asset_caption_delete(request: HttpRequest, asset_id: uuid.UUID, language: str) -> HttpResponse:
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    try:
        services.caption_track_delete(asset_id=asset.id, language=language)
        messages.info(request, f"Captions in {language} deleted.")
    except services.ServiceError as exc:
        messages.info(request, exc.message)
    return redirect(reverse("asset_detail", args=[asset.id]) + "#captions")


@login_required_or_401
@require_POST
def asset_retry(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    try:
        services.asset_retry(asset_id=asset.id)
        messages.info(request, "Queued again.")
    except services.ServiceError as exc:
        messages.info(request, exc.message)
    return redirect("asset_detail", asset_id=asset.id)


@login_required_or_401
@require_POST
def asset_cancel(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    latest = asset.latest_job
    if latest is not None and services.job_cancel(job_id=latest.id, reason="Cancelled by its owner."):
        messages.info(request, "Cancelled.")
    return redirect("asset_detail", asset_id=asset.id)
