"""Storage out of reach on a page or a file link: a 503 that says so, not a 500 (the API answers
StorageUnavailable itself, api/__init__.py); and the Content-Security-Policy of every page."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from . import storage
from .storage import StorageUnavailable

MESSAGE = "Storage is not reachable right now; try again shortly."


class StorageUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, StorageUnavailable):
            return None
        if request.accepts("text/html"):
            response = HttpResponse(MESSAGE + "\n", status=503, content_type="text/plain; charset=utf-8")
        else:
            response = JsonResponse({"error": {"code": "storage_unavailable", "message": MESSAGE}}, status=503)
        response["Retry-After"] = "30"
        return response


class ContentSecurityPolicyMiddleware:
    """Every HTML page gets a Content-Security-Policy: scripts only from our origin (the vendored
    Uppy, hls.js and htmx are served from it), media and fetches from ours and the storage's
    (presigned S3 URLs), blobs for hls.js's media source and workers, and no framing except
    where a view allows it (`response.frame_ancestors`: the embed).
    https://developer.mozilla.org/docs/Web/HTTP/Headers/Content-Security-Policy

    Left out: the API's own pages (its Swagger UI runs an inline script)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/api/") or not response.get("Content-Type", "").startswith("text/html"):
            return response
        files = storage.browser_origin() or ""
        ancestors = getattr(response, "frame_ancestors", None) or "'none'"
        response["Content-Security-Policy"] = "; ".join(
            (
                "default-src 'self'",
                "script-src 'self'",
                # Django's admin widgets set a few style attributes.
                "style-src 'self' 'unsafe-inline'",
                f"img-src 'self' data: blob: {files}".strip(),
                f"media-src 'self' blob: {files}".strip(),
                f"connect-src 'self' {files}".strip(),
                "worker-src 'self' blob:",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                f"frame-ancestors {ancestors}",
            )
        )
        return response
