"""The upload page and the API take an upload through one path (issue 28, section 5): the same
rate limit and message, the same answer (the API's `Accepted`), the same status_url."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)


@pytest.fixture
def both(client, user, token):
    """One client that is signed in (the page) and sends a token (the API)."""
    client.force_login(user)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def _file(content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + content, content_type="video/mp4")


def test_the_page_and_the_api_answer_an_upload_alike(both, fs_storage):
    page = both.post(reverse("asset_upload"), {"file": _file(b"a" * 100)}, **JSON)
    api = both.post(reverse("api-1:asset_create"), {"file": _file(b"b" * 100)})
    assert (page.status_code, api.status_code) == (202, 202)
    page_body, api_body = page.json(), api.json()
    assert set(page_body) == set(api_body)
    for body in (page_body, api_body):
        assert body["status_url"] == f"http://testserver/api/v1/assets/{body['asset_id']}", body
    followed = both.get(page_body["status_url"])
    assert followed.status_code == 200 and followed.json()["job_id"] == page_body["job_id"]

    again = both.post(reverse("asset_upload"), {"file": _file(b"b" * 100)}, **JSON)  # the API's bytes
    assert again.status_code == 200
    assert again.json() == api_body | {"duplicate": True, "status": again.json()["status"]}


def test_the_page_and_the_api_refuse_past_the_rate_limit_alike(both, fs_storage, settings):
    settings.MEDIA_UPLOAD_RATE_PER_MINUTE = 1
    assert both.post(reverse("asset_upload"), {"file": _file(b"a")}, **JSON).status_code == 202
    page = both.post(reverse("asset_upload"), {"file": _file(b"b")}, **JSON)
    api = both.post(reverse("api-1:asset_create"), {"file": _file(b"c")})
    assert (page.status_code, api.status_code) == (429, 429)
    assert page.json() == api.json() and page["Retry-After"] == api["Retry-After"] == "60"
    html = both.post(reverse("asset_upload"), {"file": _file(b"d")})
    assert html.status_code == 429 and api.json()["error"]["message"] in html.content.decode()
