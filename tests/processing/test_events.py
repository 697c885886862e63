"""The job event stream: what happened, in order, and who hears about it."""

from pathlib import Path

import pytest

from media_tasks import events, services
from media_tasks.models import JobEvent
from media_tasks.processing import finalize, probe, thumbnails, transcode, transitions
from tests.media import make_video

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)


def test_a_video_job_tells_its_story_and_subscribers_hear_it(fs_storage, user, tmp_path):
    heard: list[JobEvent] = []
    broken_calls: list = []

    def broken(event):
        broken_calls.append(event)
        raise RuntimeError("a subscriber bug")

    events.subscribe(broken)
    events.subscribe(heard.append)
    try:
        clip = make_video(Path(tmp_path) / "clip.mp4", width=320, height=240, duration=1.0)
        with clip.open("rb") as fh:
            job = services.asset_create(owner=user, fileobj=fh, filename="clip.mp4", size_bytes=clip.stat().st_size).job
        probe.job_probe(job_id=job.id, worker="w1")
        transcode.job_transcode(job_id=job.id, worker="w1")
        transcode.job_transcode(job_id=job.id, worker="w2")  # a redelivery
        thumbnails.job_make_thumbnails(job_id=job.id, worker="w2")
        finalize.job_finalize(job_id=job.id, worker="w2")
    finally:
        events.unsubscribe(broken)
        events.unsubscribe(heard.append)
    story = list(job.events.values_list("type", "stage", "message", "worker_hostname"))
    assert story == [
        ("queued", "", "Uploaded; waiting for a worker.", ""),
        ("stage", "probing", "Checking the file started.", "w1"),
        ("stage", "transcoding", "Transcoding started.", "w1"),
        ("stage", "transcoding", "Transcoding started again: the previous try was interrupted.", "w2"),
        ("stage", "thumbnailing", "Making thumbnails started.", "w2"),
        ("stage", "finalizing", "Finishing started.", "w2"),
        ("succeeded", "", "Ready.", "w2"),
    ]
    recorded = [e for e in heard if e.type != "progress"]  # progress ticks are heard, not stored
    assert [e.pk for e in recorded] == list(job.events.values_list("pk", flat=True))
    assert all(e.pk is None for e in heard if e.type == "progress")
    assert len(broken_calls) == len(heard), "a failing subscriber does not stop the others or the job"


def test_failure_and_cancel_are_events_once(fs_storage, user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    job = services.asset_create(owner=user, fileobj=SimpleUploadedFile("a", b"x" * 10), filename="a", size_bytes=10).job
    assert services.job_cancel(job_id=job.id, reason="Cancelled by alice.")
    assert not transitions.job_mark_failed(job_id=job.id, reason="too late")
    assert list(job.events.values_list("type", "message")) == [
        ("queued", "Uploaded; waiting for a worker."),
        ("cancelled", "Cancelled by alice."),
    ]
