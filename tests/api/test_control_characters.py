"""Text that is not text (NUL, other control characters, lone surrogates) is refused by the API
with a 422 naming the field, and nothing is stored: PostgreSQL refuses NUL in text, so on the
deployment database these were 500s (issue 28)."""

import json

import pytest
from django.urls import reverse

from media_tasks.models import Asset, Rendition, Upload
from tests.factories import video_with_frame

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(user, fs_storage, monkeypatch) -> Asset:
    """A video with one frame the encode took (a poster candidate), its words set."""
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    return video_with_frame(owner=user, title="Title", description="Words")


def _refused(response, field: str, status: int = 422, code: str = "validation_error") -> str:
    assert response.status_code == status, (response.status_code, response.content[:300])
    error = response.json()["error"]
    assert error["code"] == code
    assert [f["field"] for f in error["fields"]] == [field], error
    return error["fields"][0]["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("description", "x\u0000y"),
        ("poster", "frame\u0000"),
        ("title", "a\u0000b"),
        ("alt_text", "a\u0007b"),
        ("description", "bell\u0007"),
    ],
)
def test_patching_an_asset_with_control_characters_is_refused_naming_the_field(api, video, field, value):
    url = reverse("api-1:asset_update", args=[video.id])
    response = api.patch(url, json.dumps({field: value}), content_type="application/json")
    assert "control character" in _refused(response, field)
    video.refresh_from_db()
    assert (video.title, video.description, video.alt_text) == ("Title", "Words", "")
    assert not video.renditions.filter(kind=Rendition.Kind.POSTER).exists()


def test_a_description_keeps_its_tabs_and_newlines(api, video):
    url = reverse("api-1:asset_update", args=[video.id])
    response = api.patch(url, json.dumps({"description": "one\ttwo\nthree"}), content_type="application/json")
    assert response.status_code == 200, response.content
    video.refresh_from_db()
    assert video.description == "one\ttwo\nthree"


def test_a_lone_surrogate_is_refused_not_a_500(api, video):
    url = reverse("api-1:asset_update", args=[video.id])
    response = api.patch(url, '{"description": "x\\ud800y"}', content_type="application/json")
    _refused(response, "description")


def test_an_upload_filename_with_nul_is_refused(api, fs_storage):
    response = api.post(reverse("api-1:upload_start"), {"filename": "a\u0000.mp4", "size": 10}, "application/json")
    assert "control character" in _refused(response, "filename")
    assert not Upload.objects.exists()


def test_a_webhook_url_with_nul_is_refused_by_its_own_check(api):
    url = "https://hooks.example.com/a\u0000b"
    response = api.post(reverse("api-1:webhook_create"), {"url": url, "events": []}, "application/json")
    assert "control characters" in _refused(response, "url", status=400, code="invalid_url")


def test_an_idempotency_key_with_nul_is_refused(api, fs_storage):
    response = api.post(
        reverse("api-1:upload_start"),
        {"filename": "a.mp4", "size": 10},
        "application/json",
        HTTP_IDEMPOTENCY_KEY="k\u0000",
    )
    assert "control character" in _refused(response, "Idempotency-Key")


def test_a_query_string_with_nul_is_refused_naming_the_parameter(api):
    response = api.get(reverse("api-1:asset_list") + "?page=1&search=%00")
    assert "control character" in _refused(response, "search")
