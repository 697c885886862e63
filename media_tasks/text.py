"""Text we keep or look up must be text. PostgreSQL refuses NUL in a text value (a 500 once it
reached the database), and the other control characters mean nothing in a title, a name or a
search; tab, newline and carriage return are text (a description has lines).

One rule, used by each layer once: the API's schema type (api.schemas.Text), the pages' forms
(forms.TextForm) and every query string (QueryTextMiddleware, here)."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

# C0 controls but tab, newline and carriage return; DEL and the C1 controls; lone surrogates
# (they cannot be encoded to UTF-8, so the database would refuse them too).
NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` is not text ("holds a control character (U+0000)…"), or None when it is."""
    found = NOT_TEXT.search(value)
    if found is None:
        return None
    return f"holds a control character (U+{ord(found.group()):04X}), which text may not contain"


def validate_text(value: str) -> None:
    """A Django validator (forms, models) for the rule above."""
    if isinstance(value, str) and (problem := text_problem(value)):
        raise ValidationError(f"This {problem}.", code="control_character")


class QueryTextMiddleware:
    """Refuses a query string whose names or values are not text, before any view reads it: the
    API with its validation error (422, the parameter named), a page with a 400 that names it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, values in request.GET.lists():
            problem = text_problem(name) or next(filter(None, map(text_problem, values)), None)
            if problem:
                return _refused(request, name if not text_problem(name) else "query", problem)
        return self.get_response(request)


def _refused(request: HttpRequest, field: str, problem: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        detail = {"field": field, "message": f"This {problem}."}
        error = {"code": "validation_error", "message": "Some fields are missing or wrong.", "fields": [detail]}
        return JsonResponse({"error": error}, status=422)
    message = f"The link's “{field}” {problem}."
    return render(request, "400.html", {"message": message}, status=400)
