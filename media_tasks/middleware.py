"""Storage or the database out of reach on a page or a file link: a 503 that says so, not a 500
(the API answers them itself, api/__init__.py); and the Content-Security-Policy of every page."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from . import storage
from .storage import StorageUnavailable

logger = logging.getLogger(__name__)

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


class DatabaseUnavailableMiddleware:
    """The database out of reach: a 503 that says so (a small page, or the API's error shape),
    logged once when the outage is first met and once when a request reaches it again, not
    with a traceback per request. The API answers it itself (api/__init__.py) through
    `database_unavailable` below."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if _outage["since"] is not None and not getattr(response, "database_unavailable", False) and _reachable():
            _database_back()
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_ERRORS):
            return None
        request.user = AnonymousUser()  # who asked cannot be known now: nothing after us may look it up
        if request.path.startswith("/api/") or not request.accepts("text/html"):
            body = {"error": {"code": "database_unavailable", "message": DATABASE_MESSAGE}}
            return database_unavailable(JsonResponse(body, status=503), exception)
        page = render_to_string("503.html", {"message": DATABASE_MESSAGE})  # no request: no database
        return database_unavailable(HttpResponse(page, status=503), exception)


DATABASE_MESSAGE = "The database is not reachable right now; try again shortly."
DATABASE_ERRORS = (OperationalError, InterfaceError)
_outage: dict[str, float | None] = {"since": None}  # per process: each logs its own outage once


def database_unavailable(response: HttpResponse, exc: BaseException) -> HttpResponse:
    """Mark a 503 answered for the database: Retry-After, one WARNING per outage, and no
    per-request log line from Django (which logs every 5xx at ERROR otherwise)."""
    if _outage["since"] is None:
        _outage["since"] = time.monotonic()
        logger.warning("the database is out of reach (%s): answering 503 until it is back", exc)
    connection.close()  # the next request tries a fresh connection
    response["Retry-After"] = "10"
    response.database_unavailable = True
    response._has_been_logged = True  # read by django.utils.log.log_response
    return response


def _reachable() -> bool:
    """Whether the database answers (a page that needs none proves nothing): no-op on an open connection."""
    try:
        connection.ensure_connection()
        return True
    except DATABASE_ERRORS:
        connection.close()
        return False


def _database_back() -> None:
    since, _outage["since"] = _outage["since"], None
    logger.info("the database is back after %.0f s of 503s", time.monotonic() - (since or time.monotonic()))


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
