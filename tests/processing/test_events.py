"""The job event stream: what happened, in order, and who hears about it."""

from pathlib import Path

import pytest

from media_tasks import events, services
from media_tasks.models import Asset, Job, JobEvent
from media_tasks.presenters import job_timeline
from media_tasks.processing import finalize, probe, thumbnails, transcode, transitions
from media_tasks.services.webhooks import _TYPE_OF, EVENT_TYPES
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
        # Once per job, beside the lead's encode (and so before a clip this short is playable).
        ("note", "transcoding", "Loudness: -21.8 LUFS, true peak -19.1 dBTP: +5.8 dB; now -16 LUFS, -13.4 dBTP.", "w1"),
        # Once, by the first try: early while it encodes, or after its store for a clip this short.
        ("playable", "transcoding", "Playable: more qualities are coming.", "w1"),
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


def test_playable_is_marked_once_and_only_while_transcoding(user):
    asset = Asset.objects.create(
        owner=user, kind="video", original_key="k", original_filename="a.mp4", size_bytes=1, sha256="0"
    )
    job = Job.objects.create(asset=asset, status=Job.Status.PROBING, correlation_id="c")
    assert not transitions.job_mark_playable(job_id=job.id)  # not before its ladder is being made
    Job.objects.filter(pk=job.id).update(status=Job.Status.TRANSCODING)
    assert next(s.label for s in job_timeline(job=Job.objects.get(pk=job.id)) if s.state == "todo") == "Playable"
    assert transitions.job_mark_playable(job_id=job.id, worker="w1")
    first = Job.objects.get(pk=job.id).playable_at
    assert not transitions.job_mark_playable(job_id=job.id, worker="w2")  # a redelivery keeps the first moment
    job = Job.objects.get(pk=job.id)
    assert job.playable_at == first
    assert list(job.events.values_list("type", flat=True)) == ["playable"]
    steps = {s.label: s.state for s in job_timeline(job=job)}
    assert list(steps)[3:5] == ["Playable", "Making thumbnails"] and steps["Playable"] == "done"
    assert _TYPE_OF[JobEvent.Type.PLAYABLE] == "job.playable" and "job.playable" in EVENT_TYPES
