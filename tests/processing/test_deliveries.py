"""Deliveries of a job's messages: one that arrived although its publish was reported as failed
counts as queued, so the rescue does not send it again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from media_tasks.models import Job
from media_tasks.processing import probe, rescue
from tests.media import make_video
from tests.processing.test_jobs import upload

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("deliveries") / "clip.mp4", width=320, height=240, duration=1.0)


def test_a_probe_that_arrives_after_a_publish_reported_as_failed_marks_the_job_enqueued(
    fs_storage, user, small_video, monkeypatch
):
    # The publish timed out waiting for its confirm (a broker memory alarm): no enqueued_at...
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    job = upload(small_video, user)
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert job.enqueued_at is None
    # ...but the message went through when the alarm cleared, and a worker took it.
    assert probe.job_probe(job_id=job.id, worker="w1") == "video"
    job.refresh_from_db()
    assert job.enqueued_at is not None
    Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED)  # even were it queued again
    never_queued, _ = rescue.jobs_needing_rescue()
    assert job.id not in [j.id for j in never_queued]
