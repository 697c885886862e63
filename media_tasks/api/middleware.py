"""Errors answered under /api/ by something other than the API's own handlers (ninja's 405
for a method an endpoint lacks, Django's 400 for a body it refuses to parse, its 500 page)
are rewritten into the API's one error shape, so a client never has to parse HTML."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse

_CODES = {400: "bad_request", 403: "forbidden", 405: "method_not_allowed", 413: "too_large", 500: "internal_error"}
_KEPT_HEADERS = ("Allow", "Retry-After")


class ApiErrorShapeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path.startswith("/api/")
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        status = response.status_code
        message = f"{_phrase(status)}."
        shaped = JsonResponse({"error": {"code": _CODES.get(status, "error"), "message": message}}, status=status)
        for header in _KEPT_HEADERS:
            if header in response:
                shaped[header] = response[header]
        return shaped


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
