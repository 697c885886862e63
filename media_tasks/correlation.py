"""A correlation id follows each asset from the upload request through every task, log line,
event and webhook, so one grep finds everything that happened to it.

Requests take the caller's X-Correlation-ID (or get a new one) and answer with it;
a Job stores it; each task binds its job's id before it runs (mediaplatform/celery.py).
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

HEADER = "X-Correlation-ID"
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_current: ContextVar[str] = ContextVar("correlation_id", default="-")


def get() -> str:
    return _current.get()


def bind(value: str | None) -> None:
    _current.set(value or "-")


def from_header(value: str | None) -> str:
    """The caller's id when it is a sane token, else a new one."""
    return value if value and _VALID.match(value) else uuid.uuid4().hex


def install_log_record_factory() -> None:
    """Every record made in this process carries `correlation_id`, whichever logger or
    handler it goes through (billiard's and Celery's own handlers have no filters)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "adds_correlation_id", False):
        return

    def make_record(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.correlation_id = _current.get()
        return record

    make_record.adds_correlation_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


class CorrelationIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.correlation_id = from_header(request.headers.get(HEADER))
        token = _current.set(request.correlation_id)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = request.correlation_id
        return response
