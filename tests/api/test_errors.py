"""One error shape for every API error, `{"error": {"code", "message", "fields"?}}`, and every
status an operation can answer listed in the OpenAPI schema."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from media_tasks import services

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message"} <= set(error) <= {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    if "fields" in error:
        assert all(set(f) == {"field", "message"} for f in error["fields"]), error
    if code is not None:
        assert error["code"] == code, error
    return error


def test_anonymous_writes_get_401_not_a_csrf_403(client):
    anonymous = Client(enforce_csrf_checks=True)
    for method, path, body in (
        ("post", "/api/v1/uploads", {"filename": "a.mp4", "size": 10}),
        ("post", "/api/v1/webhooks", {"url": "https://hooks.example.com/"}),
        ("delete", "/api/v1/webhooks/1", None),
    ):
        response = getattr(anonymous, method)(path, json.dumps(body) if body else None, content_type="application/json")
        assert_error(response, 401, "not_authenticated")


def test_a_revoked_token_on_a_write_gets_401(user):
    new = services.api_token_create(owner=user, name="ci")
    services.api_token_revoke(owner=user, token_id=new.token.pk)
    caller = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {new.plaintext}")
    response = caller.post("/api/v1/uploads", {"filename": "a.mp4", "size": 10}, content_type="application/json")
    assert_error(response, 401, "not_authenticated")


def test_a_signed_in_browser_without_its_csrf_token_gets_403_in_the_shape(user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post("/api/v1/uploads", {"filename": "a.mp4", "size": 10}, content_type="application/json")
    assert_error(response, 403, "csrf_failed")


def test_a_body_that_is_not_json_gets_400_in_the_shape(api, fs_storage):
    response = api.post("/api/v1/uploads", "{not json", content_type="application/json")
    assert_error(response, 400, "invalid_json")


def test_json_over_the_request_limit_gets_413_in_the_shape(api, fs_storage, settings):
    body = json.dumps({"filename": "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10), "size": 10})
    response = api.post("/api/v1/uploads", body, content_type="application/json")
    assert_error(response, 413, "too_large")


def test_an_empty_file_gets_422_with_fields(api, fs_storage):
    response = api.post("/api/v1/assets", {"file": SimpleUploadedFile("empty.png", b"")})
    error = assert_error(response, 422)
    assert error["fields"][0]["field"] == "file"


def test_service_refusals_name_their_field_in_fields(api, settings):
    response = api.post("/api/v1/webhooks", {"url": "ftp://x"}, content_type="application/json")
    error = assert_error(response, 400, "invalid_url")
    assert [f["field"] for f in error["fields"]] == ["url"]


def test_bad_list_filters_get_a_documented_422(api, client):
    response = api.get("/api/v1/assets", {"status": "nonsense", "page": "x"})
    assert_error(response, 422, "validation_error")
    operation = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/assets"]["get"]
    assert {"401", "422"} <= set(operation["responses"])


def _operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_operation_documents_its_error_statuses_with_the_error_schema(client):
    schema = client.get("/api/v1/openapi.json").json()
    missing = []
    for path, method, operation in _operations(schema):
        expected = {"401", "422"} | ({"400", "403", "413"} if method in ("post", "put", "delete") else set())
        responses = operation["responses"]
        missing += [f"{method.upper()} {path}: {code}" for code in sorted(expected - set(responses))]
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/Error"), (path, method, code, ref)
    assert not missing, missing
    detail = schema["components"]["schemas"]["ErrorDetail"]["properties"]
    assert set(detail) == {"code", "message", "fields"}


def test_every_operation_answers_an_anonymous_caller_401_in_the_shape(client):
    """Walks the schema: whatever the operation, no token and no session is a documented 401."""
    anonymous = Client(enforce_csrf_checks=True)
    schema = client.get("/api/v1/openapi.json").json()
    ids = {"upload_id": "00000000-0000-0000-0000-000000000001", "asset_id": "00000000-0000-0000-0000-000000000002"}
    for path, method, operation in _operations(schema):
        url = path.format(**ids, part_number=1, webhook_id=1, language="en")
        if method == "get":
            response = anonymous.get(url)
        else:
            response = getattr(anonymous, method)(url, "{}", content_type="application/json")
        assert_error(response, 401, "not_authenticated")
        assert "401" in operation["responses"], (method, path)


def test_a_method_an_endpoint_does_not_have_gets_405_in_the_shape(api):
    response = api.patch("/api/v1/assets", "{}", content_type="application/json")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_an_unexpected_failure_is_a_500_in_the_shape(token, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("media_tasks.selectors.asset_list_for", broken)
    caller = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token}")
    error = assert_error(caller.get("/api/v1/assets"), 500, "internal_error")
    assert "a bug" not in error["message"]


def test_too_many_form_fields_get_400_in_the_shape(api, settings, fs_storage):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    fields = {f"f{n}": "x" for n in range(10)} | {"file": SimpleUploadedFile("a.png", b"x")}
    assert_error(api.post("/api/v1/assets", fields), 400)
