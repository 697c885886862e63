"""A retry only where it can help (issue 22): a file we cannot read is not offered one, through
the API or on the page; a cancelled or our-side failure is."""

import pytest
from django.urls import reverse

from media_tasks import services
from media_tasks.models import Job
from media_tasks.processing import probe
from tests.views.test_assets import upload_file

pytestmark = pytest.mark.django_db


def test_a_file_we_cannot_read_is_not_offered_a_retry(api, alice_client, user, fs_storage, monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    job = services.asset_create(owner=user, fileobj=upload_file(), filename="notes.mp4", size_bytes=4108).job
    probe.job_probe(job_id=job.id)
    body = api.get(f"/api/v1/assets/{job.asset_id}").json()
    assert body["status"] == "failed" and body["retryable"] is False
    refused = api.post(f"/api/v1/assets/{job.asset_id}/retry")
    assert refused.status_code == 409 and "Trying again cannot help" in refused.json()["error"]["message"]
    assert 'id="retry"' not in alice_client.get(reverse("asset_detail", args=[job.asset_id])).content.decode()
    # Re-encoding it cannot help either: refused the same way, and no new job.
    refused = api.post(f"/api/v1/assets/{job.asset_id}/reencode")
    assert refused.status_code == 409 and "cannot help" in refused.json()["error"]["message"]
    assert Job.objects.filter(asset_id=job.asset_id).count() == 1


def test_a_cancelled_job_is_offered_a_retry(api, alice_client, user, fs_storage, monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    job = services.asset_create(owner=user, fileobj=upload_file(), filename="clip.mp4", size_bytes=4108).job
    services.job_cancel(job_id=job.id, reason="Cancelled by its owner.")
    assert api.get(f"/api/v1/assets/{job.asset_id}").json()["retryable"] is True
    assert 'id="retry"' in alice_client.get(reverse("asset_detail", args=[job.asset_id])).content.decode()
    assert api.post(f"/api/v1/assets/{job.asset_id}/retry").status_code == 202
