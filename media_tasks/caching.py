"""What caches may keep, said in one place for every page and API answer.

A page built from the visitor's session (who is signed in, their messages) is theirs alone:
`private`, so no shared cache (a proxy, a CDN) keeps one for the next visitor; a view that shows
a secret adds `no-store` itself (the token page). The API's answers carry signed links and the
caller's data: `private, no-store`. A view's own directives stay (patch_cache_control merges them).
https://developer.mozilla.org/docs/Web/HTTP/Headers/Cache-Control
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class PrivateCacheMiddleware:
    """After SessionMiddleware. It asks whether the session was read, never who the user is:
    that would cost a query per response, and fail again while the database is away."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            patch_cache_control(response, private=True, no_store=True)
        elif getattr(getattr(request, "session", None), "accessed", False):
            patch_cache_control(response, private=True)
        return response
