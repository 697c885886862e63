"""Storage out of reach on a page or a file link: a 503 that says so, not a 500.

The API answers StorageUnavailable itself (api/__init__.py); this covers the views."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

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
