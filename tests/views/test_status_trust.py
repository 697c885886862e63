"""Status people can trust (issue 22): where a queued job stands in line, and a re-encode that
was cancelled never hides the version made before it."""

import pytest
from django.urls import reverse

from media_tasks import services
from tests.playback import make_ready_video
from tests.views.test_assets import upload_file

pytestmark = pytest.mark.django_db


def test_a_queued_job_says_how_many_wait_ahead(alice_client, user, fs_storage, monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    jobs = [
        services.asset_create(
            owner=user, fileobj=upload_file(content=bytes([n]) * 99), filename=f"{n}.mp4", size_bytes=99
        ).job
        for n in range(3)
    ]
    page = alice_client.get(reverse("asset_detail", args=[jobs[2].asset_id])).content.decode()
    assert "2 jobs ahead of yours" in page
    assert "next in line" in alice_client.get(reverse("asset_detail", args=[jobs[0].asset_id])).content.decode()


def test_a_cancelled_reencode_keeps_the_earlier_video_on_the_page(
    alice_client, user, fs_storage, monkeypatch, tmp_path
):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    again = services.asset_reprocess(asset_id=asset.id)
    services.job_cancel(job_id=again.id, reason="Cancelled by its owner.")
    page = alice_client.get(reverse("asset_detail", args=[asset.id])).content.decode()
    assert 'id="earlier-version"' in page and "was cancelled" in page
    assert 'id="player"' in page and "480p" in page
