"""The live parts of pages (htmx polling) and the Prometheus endpoint."""

import io
import re

import pytest
from django.urls import reverse

from media_tasks import services
from media_tasks.models import Job
from media_tasks.processing import transitions
from media_tasks.processing.transitions import job_advance

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(user, fs_storage):
    return services.asset_create(owner=user, fileobj=io.BytesIO(b"x" * 10), filename="a.png", size_bytes=10).job


def test_live_fragment_answers_304_until_something_changes(alice_client, job):
    url = reverse("asset_detail", args=[job.asset_id]) + "?fragment=live"
    first = alice_client.get(url)
    assert first.status_code == 200 and b'hx-trigger="every 1s"' in first.content
    etag = first["ETag"]
    assert alice_client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    Job.objects.filter(pk=job.pk).update(status=Job.Status.PROBING, progress=3)
    changed = alice_client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and b"Checking the file" in changed.content


def test_the_fragment_stops_polling_once_the_job_has_ended_and_offers_retry(alice_client, job):
    job_advance(job_id=job.id, to=Job.Status.PROBING, worker="w1")
    transitions.job_mark_failed(job_id=job.id, reason="The file is not a video, sound or image we can read.")
    page = alice_client.get(reverse("asset_detail", args=[job.asset_id]) + "?fragment=live").content.decode()
    assert "hx-trigger" not in page and "not a video, sound or image" in page
    assert 'id="retry"' in page and re.search(r'class="step step-failed">Checking the file', page)
    retried = alice_client.post(reverse("asset_retry", args=[job.asset_id]))
    assert retried.status_code == 302 and job.asset.jobs.count() == 2


def test_my_media_list_polls_while_something_runs(alice_client, job):
    page = alice_client.get(reverse("asset_list") + "?fragment=rows")
    assert b'hx-trigger="every 1s"' in page.content and b"queued" in page.content
    assert (
        alice_client.get(reverse("asset_list") + "?fragment=rows", HTTP_IF_NONE_MATCH=page["ETag"]).status_code == 304
    )
    services.job_cancel(job_id=job.id)
    assert b"hx-trigger" not in alice_client.get(reverse("asset_list") + "?fragment=rows").content


def test_metrics_report_jobs_queues_stages_and_webhooks(client, job, settings):
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED)
    body = client.get("/metrics").content.decode()
    assert 'media_jobs{status="failed"} 1.0' in body
    assert "media_queue_messages" in body and "media_webhook_attempts_total" in body
    settings.MEDIA_METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200
