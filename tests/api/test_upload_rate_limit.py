"""The upload rate limit counts uploads that were taken, not ones refused because storage was out
of reach: a user who retries through an outage is not locked out when it ends."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.test_assets import png
from tests.conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def unreachable_s3(settings):
    """S3 settings as deployed, pointed at a loopback port where nothing listens (refused at once)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                **settings.S3_OPTIONS,
                "bucket_name": "gone",
                "endpoint_url": f"http://127.0.0.1:{free_port()}",
                "access_key": S3_ACCESS_KEY,
                "secret_key": S3_SECRET_KEY,
                "region_name": S3_REGION,
            },
        },
    }


def start(api, size=10 * 1024 * 1024):
    return api.post("/api/v1/uploads", {"filename": "clip.mp4", "size": size}, content_type="application/json")


def test_uploads_refused_with_503_do_not_count_against_the_rate_limit(api, unreachable_s3, settings, tmp_path):
    settings.MEDIA_UPLOAD_RATE_PER_MINUTE = 1
    for attempt in range(3):
        refused = start(api)
        assert refused.status_code == 503, (attempt, refused.content)
        assert refused.json()["error"]["code"] == "storage_unavailable"
        small = api.post("/api/v1/assets", {"file": SimpleUploadedFile("a.png", png())})
        assert small.status_code == 503, (attempt, small.content)

    # Storage is back: the one upload a minute allowed is still there, and then the limit holds.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage"), "allow_overwrite": True},
        },
    }
    assert start(api).status_code == 201
    again = start(api)
    assert again.status_code == 429 and again.json()["error"]["code"] == "rate_limited", again.content
