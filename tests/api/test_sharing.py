"""Where an embed may be framed (issue 28): the owner lists the sites, sent as CSP
`frame-ancestors`; none listed, any site may frame it, as before."""

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from media_tasks import services
from media_tasks.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(user, fs_storage, monkeypatch):
    """A shared item that is ready (the embed shows ready items only)."""
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    upload = ContentFile(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, name="clip.mp4")
    job = services.asset_create(owner=user, fileobj=upload, filename="clip.mp4", size_bytes=upload.size).job
    Job.objects.filter(pk=job.id).update(status=Job.Status.SUCCEEDED)
    return services.asset_share(asset_id=job.asset_id, shared=True)


def frame_ancestors(asset) -> str:
    policy = Client().get(reverse("shared_embed", args=[asset.share_token]))["Content-Security-Policy"]
    return next(part.strip() for part in policy.split(";") if part.strip().startswith("frame-ancestors"))


def patch(api, asset, origins):
    return api.patch(f"/api/v1/assets/{asset.id}", {"embed_origins": origins}, content_type="application/json")


def test_the_owner_limits_the_sites_that_may_frame_the_embed(api, shared):
    assert api.get(f"/api/v1/assets/{shared.id}").json()["embed_origins"] == []  # anywhere, by default
    assert frame_ancestors(shared) == "frame-ancestors *"
    answer = patch(api, shared, ["https://Blog.Example.com", "http://localhost:8080/", "https://blog.example.com"])
    assert answer.status_code == 200, answer.content
    assert answer.json()["embed_origins"] == ["https://blog.example.com", "http://localhost:8080"]
    assert frame_ancestors(shared) == "frame-ancestors https://blog.example.com http://localhost:8080"
    assert patch(api, shared, []).json()["embed_origins"] == []
    assert frame_ancestors(shared) == "frame-ancestors *"


@pytest.mark.parametrize(
    "origins",
    [
        ["javascript:alert(1)"],
        ["ftp://files.example.com"],
        ["https://blog.example.com/videos"],
        ["https://blog.example.com?x=1"],
        ["https://blog.example.com; script-src *"],
        ["https://a.example.com https://b.example.com"],
        ["https://user@blog.example.com"],
        ["https://"],
        ["*"],
        ["https://blog.example.com:99999"],
        [f"https://site{n}.example.com" for n in range(21)],
        "https://blog.example.com",
        [42],
    ],
)
def test_what_is_not_a_list_of_a_few_http_origins_is_refused_naming_the_field(api, shared, origins):
    answer = patch(api, shared, origins)
    assert answer.status_code == 422, answer.content
    assert answer.json()["error"]["fields"][0]["field"].startswith("embed_origins")
    assert frame_ancestors(shared) == "frame-ancestors *"  # nothing changed
