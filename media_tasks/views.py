"""Thin views: validate, call a service or selector, respond."""

from __future__ import annotations

import re
import uuid
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from . import selectors, services, storage
from .forms import UploadForm

_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Small text files are served through Django even with S3, so that the relative
# names inside them (HLS segments, sprite tiles) resolve against our URLs.
_PROXIED_SUFFIXES = (".m3u8", ".vtt")


def _wants_json(request: HttpRequest) -> bool:
    return request.accepts("application/json") and not request.accepts("text/html")


def _login_required(view):
    """login_required for pages; a 401 JSON error for API clients instead of a redirect."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if _wants_json(request):
            return JsonResponse({"error": {"code": "not_authenticated", "message": "Sign in first."}}, status=401)
        return redirect_to_login(request.get_full_path())

    return wrapper


@_login_required
@require_http_methods(["GET", "POST"])
def asset_upload(request: HttpRequest) -> HttpResponse:
    wants_json = _wants_json(request)
    if request.method == "POST" and selectors.uploads_in_last_minute(user=request.user) >= (
        limit := settings.MEDIA_UPLOAD_RATE_PER_MINUTE
    ):
        # Checked before the body is parsed: a refused upload is never stored.
        message = f"Too many uploads: at most {limit} a minute. Try again in a minute."
        if wants_json:
            response = JsonResponse({"error": {"code": "rate_limited", "message": message}}, status=429)
        else:
            response = render(
                request, "media_tasks/asset_upload.html", {"form": UploadForm(), "error": message}, status=429
            )
        response["Retry-After"] = "60"
        return response
    form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        header = request.headers.get("X-Correlation-ID", "")
        result = services.asset_create(
            owner=request.user,
            fileobj=upload,
            filename=upload.name,
            size_bytes=upload.size,
            correlation_id=header if _CORRELATION_ID.match(header) else None,
        )
        job = result.job
        if wants_json:
            return JsonResponse(
                {
                    "asset_id": str(job.asset_id),
                    "job_id": str(job.id),
                    "status": job.status,
                    "status_url": request.build_absolute_uri(reverse("asset_status", args=[job.asset_id])),
                    "correlation_id": job.correlation_id,
                    "duplicate": result.duplicate,
                },
                # 202: accepted for processing; 200: nothing new, it is the earlier upload.
                status=200 if result.duplicate else 202,
            )
        if result.duplicate:
            messages.info(request, "You uploaded this file before; here it is.")
        return redirect("asset_detail", asset_id=job.asset_id)
    if request.method == "POST":
        if wants_json:
            return JsonResponse(
                {"error": {"code": "invalid", "message": "The upload was refused.", "fields": form.errors}},
                status=400,
            )
        return render(request, "media_tasks/asset_upload.html", {"form": form}, status=400)
    return render(request, "media_tasks/asset_upload.html", {"form": form})


@login_required
@require_GET
def asset_list(request: HttpRequest) -> HttpResponse:
    assets = selectors.asset_list_for(user=request.user)
    return render(request, "media_tasks/asset_list.html", {"assets": assets})


@login_required
@require_GET
def asset_detail(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    job = asset.latest_job
    context = {
        "asset": asset,
        "job": job,
        "status": selectors.job_status(job=job) if job else None,
        "renditions": selectors.asset_renditions(asset=asset),
    }
    return render(request, "media_tasks/asset_detail.html", context)


@_login_required
@require_GET
def asset_status(request: HttpRequest, asset_id: uuid.UUID) -> JsonResponse:
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    job = asset.latest_job
    if job is None:
        raise Http404
    return JsonResponse(selectors.job_status(job=job))


@login_required
@require_GET
def asset_file(request: HttpRequest, asset_id: uuid.UUID, name: str) -> HttpResponse:
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    try:
        key = selectors.asset_file_key(asset=asset, name=name)
    except ValueError as exc:
        raise Http404 from exc
    if not storage.exists(key):
        raise Http404
    url = None if key.endswith(_PROXIED_SUFFIXES) else storage.presigned_url(key)
    if url:
        return redirect(url)
    response = _file_response(key, request.headers.get("Range", ""))
    response["Cache-Control"] = "private, max-age=300"
    return response


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _file_response(key: str, range_header: str) -> HttpResponse:
    """Stream a stored file, honouring a single byte range so that <video> can seek.

    S3 answers ranges itself (presigned redirect); this is the filesystem default's
    path. Several ranges in one request are answered with the whole file, as RFC 9110
    allows.
    """
    size = storage.size(key)
    content_type = storage.content_type_for(key)
    match = _RANGE.match(range_header.strip())
    if not match or not any(match.groups()):
        response = FileResponse(storage.open_file(key), content_type=content_type)
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    else:  # "bytes=-N": the last N bytes
        start, end = max(0, size - int(last)), size - 1
    if start >= size or start > end:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    fileobj = storage.open_file(key)
    fileobj.seek(start)
    response = StreamingHttpResponse(_read_span(fileobj, end - start + 1), status=206, content_type=content_type)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    return response


def _read_span(fileobj, length: int, chunk: int = 512 * 1024):
    try:
        while length > 0:
            data = fileobj.read(min(chunk, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        fileobj.close()
