"""Hostile headers on the file and metrics views get a clear 4xx, never a 500."""

import pytest
from django.urls import reverse

from media_tasks import presenters, services
from tests.views.test_assets import make_rendition, upload_file

pytestmark = pytest.mark.django_db

HUGE = "9" * 4301  # one past Python's int() digit limit: int() raises ValueError


@pytest.fixture
def rendition(user, fs_storage, monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    job = services.asset_create(owner=user, fileobj=upload_file(), filename="a.mp4", size_bytes=4108).job
    return make_rendition(job.asset, content=b"0123456789abcd")


def urls(rendition) -> list[str]:
    asset = rendition.asset
    return [
        reverse("asset_file", args=[asset.id, "renditions/360p.mp4"]),
        presenters.links.download_url(asset=asset, key=rendition.storage_key),
    ]


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_range_start_of_thousands_of_digits_is_unsatisfiable(alice_client, rendition):
    for url in urls(rendition):
        response = alice_client.get(url, HTTP_RANGE=f"bytes={HUGE}-")
        assert response.status_code == 416, (url, response.status_code)
        assert response["Content-Range"] == "bytes */14"
        response = alice_client.get(url, HTTP_RANGE=f"bytes={HUGE}-{HUGE}")
        assert response.status_code == 416, (url, response.status_code)


def test_a_huge_range_end_or_suffix_means_to_the_end(alice_client, rendition):
    for url in urls(rendition):
        to_end = alice_client.get(url, HTTP_RANGE=f"bytes=10-{HUGE}")
        assert (to_end.status_code, body(to_end), to_end["Content-Range"]) == (206, b"abcd", "bytes 10-13/14")
        suffix = alice_client.get(url, HTTP_RANGE=f"bytes=-{HUGE}")
        assert (suffix.status_code, body(suffix)) == (206, b"0123456789abcd")


def test_metrics_with_a_non_ascii_authorization_header_is_401(client, settings):
    settings.MEDIA_METRICS_TOKEN = "scrape-me"
    for value in ("Bearer scrape-mé", "Bearer \u00e2\u0080\u0099", "Bearer " + "é" * 3000):
        response = client.get("/metrics", HTTP_AUTHORIZATION=value)
        assert response.status_code == 401, (value[:20], response.status_code)
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200
