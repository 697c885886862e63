"""What caches may keep (issue 28): a signed-in user's pages are for their browser alone
(`private`), and what shows a secret or signed links is never stored (`no-store`)."""

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from media_tasks import services
from media_tasks.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def asset(user, fs_storage, monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    upload = ContentFile(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, name="clip.mp4")
    job = services.asset_create(owner=user, fileobj=upload, filename="clip.mp4", size_bytes=upload.size).job
    Job.objects.filter(pk=job.id).update(status=Job.Status.SUCCEEDED)  # shared pages show ready items only
    return services.asset_share(asset_id=job.asset_id, shared=True)


def directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def test_private_pages_say_private_and_secrets_are_not_stored(alice_client, asset):
    pages = {
        reverse("asset_list"): "private",
        reverse("asset_detail", args=[asset.id]): "private",
        reverse("asset_upload"): "private",
        reverse("asset_status", args=[asset.id]): "private",
        reverse("token_list"): "no-store",  # shows a new token's secret once
    }
    for url, wanted in pages.items():
        response = alice_client.get(url)
        assert response.status_code == 200, url
        assert wanted in directives(response), (url, response.get("Cache-Control"))
    alice_client.post(reverse("token_list"), {"name": "ci"})
    shown = alice_client.get(reverse("token_list"))
    assert "no-store" in directives(shown) and "private" in directives(shown)


def test_api_answers_with_signed_links_are_never_stored(api, asset):
    for url in ("/api/v1/assets", f"/api/v1/assets/{asset.id}"):
        response = api.get(url)
        assert response.status_code == 200, url
        assert {"private", "no-store"} <= directives(response), (url, response.get("Cache-Control"))


def test_shared_pages_are_not_kept_by_shared_caches(asset):
    """A proxy or CDN keeping the shared page would go on handing it out after sharing stops."""
    for name in ("shared", "shared_embed"):
        response = Client().get(reverse(name, args=[asset.share_token]))
        assert "private" in directives(response) or "no-store" in directives(response), name
