"""Thin views: validate, call a service or selector, respond."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods
from django.views.defaults import page_not_found
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import metrics as media_metrics
from .. import presenters, selectors, services, storage
from ..forms import ApiTokenForm, UploadForm
from ..models import Asset
from ..services.uploads import upload_check_rate
from . import downloads

# Small text files are served through Django even with S3, so that the relative
# names inside them (HLS segments, the MPD's BaseURLs, sprite tiles) resolve against our URLs.
_PROXIED_SUFFIXES = (".m3u8", ".mpd", ".vtt")


def _wants_json(request: HttpRequest) -> bool:
    return request.accepts("application/json") and not request.accepts("text/html")


def login_required_or_401(view):
    """login_required for pages; a 401 JSON error instead of the login page for API clients
    (asking for JSON, or sending a token: these paths take the browser session only)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if "Authorization" in request.headers:
            message = "Pages take the browser session only; API clients use /api/v1/ and the links it gives."
            return JsonResponse({"error": {"code": "not_authenticated", "message": message}}, status=401)
        if _wants_json(request):
            return JsonResponse({"error": {"code": "not_authenticated", "message": "Sign in first."}}, status=401)
        return redirect_to_login(request.get_full_path())

    return wrapper


@login_required_or_401
@require_http_methods(["GET", "POST"])
def asset_upload(request: HttpRequest) -> HttpResponse:
    """The upload form, and its POST: the API's path (the same service checks, the same answer)
    for a form or a client asking for JSON."""
    if request.method == "GET":
        return _upload_page(request, UploadForm())
    wants_json = _wants_json(request)
    try:
        upload_check_rate(owner=request.user)  # before the body is parsed: a refused upload is never stored
    except services.ServiceError as exc:
        return _upload_refused(request, exc, wants_json)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        if wants_json:
            return JsonResponse(
                {"error": {"code": "invalid", "message": "The upload was refused.", "fields": form.errors}},
                status=400,
            )
        return _upload_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    result = services.asset_create(
        owner=request.user,
        fileobj=upload,
        filename=upload.name,
        size_bytes=upload.size,
        correlation_id=request.correlation_id,  # CorrelationIdMiddleware: the caller's, checked, or new
    )
    if wants_json:
        body = presenters.upload_accepted(
            job=result.job, duplicate=result.duplicate, absolute=request.build_absolute_uri
        )
        # 202: accepted for processing; 200: nothing new, it is the earlier upload.
        return JsonResponse(body, status=200 if result.duplicate else 202)
    if result.duplicate:
        messages.info(request, "You uploaded this file before; here it is.")
    return redirect("asset_detail", asset_id=result.job.asset_id)


def _upload_refused(request: HttpRequest, exc: services.ServiceError, wants_json: bool) -> HttpResponse:
    """A service's refusal, in the API's error shape or on the upload page."""
    if wants_json:
        response = JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)
    else:
        response = _upload_page(request, UploadForm(), status=exc.status, error=exc.message)
    if exc.status == 429:
        response["Retry-After"] = "60"
    return response


def _upload_page(request: HttpRequest, form: UploadForm, status: int = 200, error: str = "") -> HttpResponse:
    context = {
        "form": form,
        "error": error,
        "max_bytes": settings.MEDIA_MAX_UPLOAD_BYTES,
        "direct": storage.multipart_supported(),
    }
    return render(request, "media_tasks/asset_upload.html", context, status=status)


def unchanged_or(request: HttpRequest, etag: str, render_page) -> HttpResponse:
    tag = f'W/"{hashlib.sha256(etag.encode()).hexdigest()[:32]}"'
    response = HttpResponseNotModified() if request.headers.get("If-None-Match") == tag else render_page()
    response["ETag"] = tag
    response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
def file_signed(request: HttpRequest, token: str) -> HttpResponse:
    """A download link made by presenters.download_url: valid for minutes, for whoever holds it."""
    try:
        link = presenters.links.download_unsign(token)
        asset = Asset.objects.get(pk=link.asset_id)
        key = selectors.asset_file_key(asset=asset, name=link.name)
    except (signing.BadSignature, Asset.DoesNotExist, ValueError, KeyError) as exc:
        raise Http404 from exc
    if not storage.exists(key):
        raise Http404
    if downloads.is_download_plan(key):  # a video rung's MP4, put together from its streams as it is sent
        return downloads.download_response(request, asset=asset, key=key)
    filename = presenters.links.download_name(asset=asset, name=link.name)
    if url := presenters.links.file_redirect_url(key=key, shared=link.shared, filename=filename):
        return _not_stored(redirect(url))  # S3 (a shared page's link): checked just now, sent on for seconds
    response = _file_response(key, request.headers.get("Range", ""))
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _not_stored(response: HttpResponse) -> HttpResponse:
    """A redirect made after a check (the share still on): no cache may answer for the next check."""
    response["Cache-Control"] = "no-store"
    return response


@login_required_or_401
@require_GET
def asset_status(request: HttpRequest, asset_id: uuid.UUID) -> JsonResponse:
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    job = asset.latest_job
    if job is None:
        raise Http404
    return JsonResponse(presenters.job_status(job=job))


@login_required_or_401
@require_GET
def asset_file(request: HttpRequest, asset_id: uuid.UUID, name: str) -> HttpResponse:
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    try:
        key = selectors.asset_file_key(asset=asset, name=name)
    except ValueError as exc:
        raise Http404 from exc
    if not storage.exists(key):
        raise Http404
    if downloads.is_download_plan(key):
        response = downloads.download_response(request, asset=asset, key=key)
        response["Cache-Control"] = "private, max-age=300"
        return response
    url = None if key.endswith(_PROXIED_SUFFIXES) else storage.presigned_url(key)
    if url:
        return redirect(url)
    response = _file_response(key, request.headers.get("Range", ""))
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_http_methods(["GET", "HEAD", "OPTIONS"])
def play(request: HttpRequest, token: str, name: str) -> HttpResponse:
    """HLS for players, under a link from presenters.playback_url: no cookie, any origin.

    Playlists are served here (their relative names must resolve under this path);
    segments too on the filesystem, and on S3 as a redirect to a presigned GET.
    """
    if request.method == "OPTIONS":  # a preflight, for a player that sends Range
        return _cross_origin(HttpResponse(status=204))
    try:
        file = presenters.links.playback_key(token=token, name=name)
    except (signing.BadSignature, Asset.DoesNotExist, ValueError):
        return _cross_origin(HttpResponse("No such file, or the link has expired.\n", status=404))
    key = file.name
    if key.endswith(_PROXIED_SUFFIXES):  # small, and read on every reload of a growing playlist: one read
        try:
            body = storage.read_bytes(key)
        except FileNotFoundError:
            return _cross_origin(HttpResponse("No such file.\n", status=404))
        tracks = selectors.caption_tracks_for(asset_id=file.asset_id) if name in presenters.CAPTIONED else ()
        body = presenters.captions.served_manifest(name=name, body=body, tracks=tracks)
        response = HttpResponse(body, content_type=storage.content_type_for(key))
    elif url := presenters.links.file_redirect_url(key=key, shared=file.shared):
        return _cross_origin(_not_stored(redirect(url)))
    elif not storage.exists(key):
        return _cross_origin(HttpResponse("No such file.\n", status=404))
    else:
        response = _file_response(key, request.headers.get("Range", ""))
    # A playlist grows while the ladder is made (EVENT): a player reloading it must get the new
    # one, not its cached copy. A segment never changes once named.
    response["Cache-Control"] = "no-cache" if key.endswith(".m3u8") else "private, max-age=300"
    return _cross_origin(response)


def _cross_origin(response: HttpResponse) -> HttpResponse:
    # The link is the credential, never a cookie: any page may play it (hls.js on a
    # customer's site), and reading it cross-origin exposes nothing a cookie guards.
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Range"
    response["Access-Control-Expose-Headers"] = "Content-Length, Content-Range, Accept-Ranges"
    response["Access-Control-Max-Age"] = "86400"
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
    first, last = (_byte_position(group) for group in match.groups())
    if first is not None:
        start, end = first, min(last, size - 1) if last is not None else size - 1
    else:  # "bytes=-N": the last N bytes
        start, end = max(0, size - last), size - 1
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


def _byte_position(digits: str) -> int | None:
    """A Range number; one longer than any file (and than int()'s 4300-digit limit) reads as 10**18."""
    if not digits:
        return None
    return int(digits) if len(digits) <= 18 else 10**18


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


@login_required_or_401
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """API tokens of the signed-in user: create one (its secret is shown once), revoke one.

    Every POST redirects, so a reload never makes another token; the new secret waits in the
    session for the one page that shows it, which no cache may keep."""
    form = ApiTokenForm(request.POST if request.method == "POST" and "revoke" not in request.POST else None)
    if request.method == "POST":
        if revoke := request.POST.get("revoke"):
            if revoke.isdigit() and services.api_token_revoke(owner=request.user, token_id=int(revoke)):
                messages.info(request, "Token revoked.")
        elif form.is_valid():
            created = services.api_token_create(owner=request.user, name=form.cleaned_data["name"])
            request.session[_NEW_TOKEN] = {"name": created.token.name, "plaintext": created.plaintext}
        if not form.errors:
            return redirect("token_list")
    context = {"tokens": request.user.api_tokens.all(), "created": request.session.pop(_NEW_TOKEN, None), "form": form}
    response = render(request, "media_tasks/token_list.html", context, status=400 if form.errors else 200)
    response["Cache-Control"] = "no-store"
    return response


_NEW_TOKEN = "new_api_token"  # noqa: S105 - a session key, not a secret


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape endpoint. With MEDIA_METRICS_TOKEN set, it wants `Authorization: Bearer <token>`."""
    expected = settings.MEDIA_METRICS_TOKEN
    given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
    if expected and not hmac.compare_digest(given, f"Bearer {expected}".encode()):
        return HttpResponse("metrics need a token\n", status=401, content_type="text/plain")
    return HttpResponse(generate_latest(media_metrics.registry), content_type=CONTENT_TYPE_LATEST)


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Pages name their icon; this is for what asks the old way (the API docs, feed readers)."""
    return redirect(static("media_tasks/icon.svg"), permanent=True)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for URLs no view matched: JSON under /api/, so API clients always get the error shape."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "not_found", "message": "No such endpoint."}}, status=404)
    return page_not_found(request, exception)
