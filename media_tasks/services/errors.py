"""One exception for "the request cannot be done", carrying what the web page and the API tell the user."""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal written for the user, with a stable code and an HTTP status for the interfaces."""

    def __init__(self, message: str, *, code: str = "invalid", status: int = 400, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.field = field
