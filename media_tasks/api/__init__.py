"""The JSON API, /api/v1/ (django-ninja: typed endpoints, OpenAPI schema at /api/v1/openapi.json,
docs at /api/v1/docs). Thin like the views: validate, call a service or selector, respond.

Authentication: `Authorization: Bearer <token>` (personal tokens, see services.tokens)
or the browser session with its CSRF token, which is how the upload page uses the same
upload endpoints as API clients.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from .. import services
from ..middleware import DATABASE_MESSAGE, database_unavailable
from ..services.errors import ServiceError
from ..storage import StorageUnavailable


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = services.api_token_authenticate(plaintext=token)
        if user is not None:
            request.user = user
        return user


class SessionCsrfAuth(SessionAuth):
    """The browser session, its CSRF token checked only once there is a signed-in user:
    a caller with neither a valid token nor a session is unauthenticated (401), not a
    CSRF failure (ninja's SessionAuth checks CSRF first and answers 403)."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        if check_csrf(request) is not None:
            raise ServiceError(
                "CSRF check failed: send the X-CSRFToken header with the csrftoken cookie's value.",
                code="csrf_failed",
                status=403,
            )
        return request.COOKIES.get(self.param_name)


api = NinjaAPI(
    title="Media platform API",
    version="1",
    description="Upload videos, sound and images, follow their processing, fetch renditions, get webhooks.",
    urls_namespace="api-1",
    auth=[TokenAuth(), SessionCsrfAuth()],
)


def error(request: HttpRequest, status: int, code: str, message: str, fields: list | None = None) -> HttpResponse:
    """The one error shape (schemas.Error): `fields` only when particular fields are at fault."""
    detail = {"code": code, "message": message} | ({"fields": fields} if fields else {})
    return api.create_response(request, {"error": detail}, status=status)


@api.exception_handler(ServiceError)
def _service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    fields = [{"field": exc.field, "message": exc.message}] if exc.field else None
    response = error(request, exc.status, exc.code, exc.message, fields=fields)
    if exc.status == 429:
        response["Retry-After"] = "60"
    return response


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = [{"field": _field_name(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors]
    return error(request, 422, "validation_error", "Some fields are missing or wrong.", fields=fields)


def _field_name(loc) -> str:
    """The field at fault as the client names it: ("body", "changes", "title") → "title" (the
    second part is our parameter's name), ("body", "changes") → "body" (the body as a whole),
    ("query", "filters", "status") and ("query", "status") → "status"."""
    parts = [str(p) for p in loc]
    if parts[:1] == ["body"]:
        return ".".join(parts[2:]) or "body"
    if parts[:1] and parts[0] in ("query", "path", "header", "form", "file"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "filters":
        parts = parts[1:]
    return ".".join(parts) or "body"


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error(request, 404, "not_found", "No such object.")


api.exception_handler(ObjectDoesNotExist)(_not_found)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error(request, 401, "not_authenticated", "Send a valid API token (Authorization: Bearer …) or sign in.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """ninja's own refusals; the one it raises itself is a body it cannot parse."""
    if exc.status_code == 400:
        return error(request, 400, "invalid_json", "The request body is not valid JSON.")
    return error(request, exc.status_code, "http_error", exc.message)


@api.exception_handler(RequestDataTooBig)
def _body_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error(request, 413, "too_large", "The request body is too large; send files as multipart uploads.")


@api.exception_handler(StorageUnavailable)
def _storage_unavailable(request: HttpRequest, exc: StorageUnavailable) -> HttpResponse:
    response = error(request, 503, "storage_unavailable", "Storage is not reachable right now; try again shortly.")
    response["Retry-After"] = "30"
    return response


@api.exception_handler(OperationalError)
def _database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Logged once per outage (middleware.database_unavailable), not per request."""
    return database_unavailable(error(request, 503, "database_unavailable", DATABASE_MESSAGE), exc)


api.exception_handler(InterfaceError)(_database_unavailable)


from . import assets, captions, uploads, webhooks  # noqa: E402  (routers use `api` and `error`)

api.add_router("/uploads", uploads.router)
api.add_router("/assets", assets.router)
api.add_router("/assets", captions.router)
api.add_router("/webhooks", webhooks.router)
