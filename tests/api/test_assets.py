"""Contract tests of the asset endpoints, tokens and JSON errors."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from media_tasks import services
from media_tasks.models import Asset, Job

pytestmark = pytest.mark.django_db


def png(color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "PNG")
    return buffer.getvalue()


def create(api, data: bytes, name="red.png", **headers):
    return api.post("/api/v1/assets", {"file": SimpleUploadedFile(name, data)}, **headers)


def test_create_small_file_answers_202_then_200_for_the_same_bytes(api, fs_storage):
    first = create(api, png())
    assert first.status_code == 202, first.content
    body = first.json()
    assert set(body) == {"asset_id", "job_id", "status", "status_url", "correlation_id", "duplicate"}
    assert body["status_url"].endswith(f"/api/v1/assets/{body['asset_id']}")
    again = create(api, png())
    assert again.status_code == 200 and again.json()["asset_id"] == body["asset_id"] and again.json()["duplicate"]


def test_idempotency_key_makes_a_retried_create_return_the_same_asset(api, fs_storage):
    first = create(api, png((1, 2, 3)), HTTP_IDEMPOTENCY_KEY="k-1")
    second = create(api, png((1, 2, 3)), HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json() and Asset.objects.count() == 1
    reused = create(api, png((9, 9, 9)), name="other.png", HTTP_IDEMPOTENCY_KEY="k-1")
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"


def test_correlation_id_from_the_request_follows_the_asset(api, fs_storage):
    response = create(api, png((5, 5, 5)), HTTP_X_CORRELATION_ID="order-4711")
    assert response.json()["correlation_id"] == "order-4711" and response["X-Correlation-ID"] == "order-4711"
    assert Job.objects.get().correlation_id == "order-4711"


def test_list_paginates_and_filters(api, user, fs_storage):
    for n in range(3):
        create(api, png((n, 0, 0)), name=f"{n}.png")
    Job.objects.filter(asset__original_filename="0.png").update(status=Job.Status.FAILED)
    listed = api.get("/api/v1/assets").json()
    assert listed["count"] == 3 and len(listed["items"]) == 3
    failed = api.get("/api/v1/assets", {"status": "failed"}).json()
    assert [a["filename"] for a in failed["items"]] == ["0.png"]
    assert api.get("/api/v1/assets", {"kind": "video"}).json()["count"] == 0
    bad = api.get("/api/v1/assets", {"status": "nonsense"})
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "status"


def test_retrieve_delete_retry_cancel_reencode(api, fs_storage):
    asset_id = create(api, png((7, 7, 7))).json()["asset_id"]
    detail = api.get(f"/api/v1/assets/{asset_id}").json()
    assert detail["status"] == "queued" and detail["stage"] == "Queued" and detail["renditions"] == []
    assert api.post(f"/api/v1/assets/{asset_id}/retry").json()["error"]["code"] == "not_retryable"
    assert api.post(f"/api/v1/assets/{asset_id}/reencode").status_code == 409  # still running
    cancelled = api.post(f"/api/v1/assets/{asset_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api.post(f"/api/v1/assets/{asset_id}/cancel").status_code == 409
    retried = api.post(f"/api/v1/assets/{asset_id}/retry")
    assert retried.status_code == 202 and retried.json()["job_id"] != detail["job_id"]
    assert api.delete(f"/api/v1/assets/{asset_id}").status_code == 204
    assert not (fs_storage / "originals" / asset_id / "source").exists()
    assert api.get(f"/api/v1/assets/{asset_id}").status_code == 404


def test_tokens_are_hashed_and_revocable(client, user):
    new = services.api_token_create(owner=user, name="ci")
    assert new.plaintext not in str(new.token.__dict__.values())
    headers = {"HTTP_AUTHORIZATION": f"Bearer {new.plaintext}"}
    assert client.get("/api/v1/assets", **headers).status_code == 200
    services.api_token_revoke(owner=user, token_id=new.token.pk)
    refused = client.get("/api/v1/assets", **headers)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "not_authenticated"
    assert client.get("/api/v1/assets", HTTP_AUTHORIZATION="Bearer mpt_made-up").status_code == 401
    assert client.get("/api/v1/assets").status_code == 401


def test_session_callers_need_the_csrf_token(user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get("/api/v1/assets").status_code == 200
    assert browser.post(
        "/api/v1/uploads", {"filename": "a", "size": 1}, content_type="application/json"
    ).status_code in (
        401,
        403,
    )


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "Media platform API"
    assert "/api/v1/uploads/{upload_id}/complete" in schema["paths"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower() and b"cdn" not in docs.content.lower()


def test_token_page_shows_a_new_token_once_and_a_reload_makes_no_other(alice_client, user):
    created = alice_client.post("/settings/tokens/", {"name": "laptop"})
    assert created.status_code == 302 and created["Location"] == "/settings/tokens/"  # a reload re-sends nothing
    page = alice_client.get(created["Location"])
    assert "no-store" in page["Cache-Control"] and b"data-copy=" in page.content
    secret = re.search(rb'id="new-token".*?<code id="new-token-value">(mpt_[^<]+)</code>', page.content, re.S).group(1)
    assert alice_client.get("/api/v1/assets", HTTP_AUTHORIZATION=f"Bearer {secret.decode()}").status_code == 200
    assert secret not in alice_client.get("/settings/tokens/").content
    assert user.api_tokens.count() == 1


def test_deleting_assets_does_not_reset_the_upload_rate_limit(api, fs_storage, settings):
    settings.MEDIA_UPLOAD_RATE_PER_MINUTE = 2
    for color in ((10, 0, 0), (20, 0, 0)):
        created = create(api, png(color))
        assert created.status_code == 202, created.content
        assert api.delete(f"/api/v1/assets/{created.json()['asset_id']}").status_code == 204
    refused = create(api, png((30, 0, 0)))
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited", refused.content
    started = api.post("/api/v1/uploads", {"filename": "a.mp4", "size": 10}, content_type="application/json")
    assert started.status_code == 429, started.content


def test_idempotency_key_with_a_different_file_of_the_same_name_and_size_is_refused(api, fs_storage):
    first, other = png((1, 2, 3)), png((3, 2, 1))
    assert len(first) == len(other)
    assert create(api, first, name="a.png", HTTP_IDEMPOTENCY_KEY="k-9").status_code == 202
    reused = create(api, other, name="a.png", HTTP_IDEMPOTENCY_KEY="k-9")
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused", reused.content
    assert Asset.objects.count() == 1
