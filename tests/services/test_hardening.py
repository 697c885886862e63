"""Duplicates, rescue of stalled jobs, temp-dir sweeping, stale multipart uploads, time limits."""

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from media_tasks import services, storage, tasks
from media_tasks.models import Asset, Job
from media_tasks.processing import rescue, transitions, workflow

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    published: list = []
    monkeypatch.setattr(tasks.probe_task, "delay", lambda job_id: published.append(("probe", job_id)))
    return published


def upload(user, content=b"same bytes" * 1000, name="a.mp4"):
    return services.asset_create(
        owner=user, fileobj=SimpleUploadedFile(name, content), filename=name, size_bytes=len(content)
    )


def test_same_bytes_from_the_same_owner_are_recognised(fs_storage, user, other_user):
    first = upload(user)
    again = upload(user, name="renamed.mov")
    assert (again.duplicate, again.job.pk) == (True, first.job.pk)
    assert Asset.objects.filter(owner=user).count() == 1
    assert not upload(other_user).duplicate, "another user's identical file is theirs, not a duplicate"
    transitions.job_mark_failed(job_id=first.job.pk, reason="x")
    assert not upload(user).duplicate, "a failed upload may be tried again"


def test_enqueue_marks_confirmed_jobs_and_rescue_publishes_the_rest(fs_storage, user, no_broker, monkeypatch):
    job = upload(user).job
    tasks.job_enqueue(job_id=job.id)
    job.refresh_from_db()
    assert job.enqueued_at is not None and no_broker == [("probe", str(job.id))]

    lost = upload(user, content=b"other").job  # the broker was down when it was uploaded
    monkeypatch.setattr(tasks.probe_task, "delay", lambda job_id: (_ for _ in ()).throw(ConnectionError("down")))
    tasks.job_enqueue(job_id=lost.id)  # logged, not raised: the upload itself succeeded
    lost.refresh_from_db()
    assert lost.enqueued_at is None
    Job.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    published: list = []
    monkeypatch.setattr(tasks.probe_task, "delay", lambda job_id: published.append(job_id))
    tasks.jobs_rescue_task()
    lost.refresh_from_db()
    assert published == [str(lost.id)] and lost.enqueued_at is not None


def test_stalled_jobs_are_resumed_then_given_up(fs_storage, user, monkeypatch):
    job = upload(user).job
    stale = timezone.now() - timedelta(seconds=settings.MEDIA_JOB_STALL_S + 10)
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.PROBING, heartbeat_at=stale, attempts=1, enqueued_at=timezone.now()
    )
    resumed: list = []
    # The rescue publishes the workflow's chain from the probe: the probe task's message is sent.
    monkeypatch.setattr(tasks.probe_task, "apply_async", lambda args=(), kwargs=None, **o: resumed.append(args[0]))
    tasks.jobs_rescue_task()
    job.refresh_from_db()
    assert resumed == [str(job.id)] and job.attempts == 2 and job.status == Job.Status.PROBING
    tasks.jobs_rescue_task()
    assert len(resumed) == 1, "a fresh heartbeat (set by the resume) is not stalled"
    Job.objects.filter(pk=job.pk).update(heartbeat_at=stale, attempts=settings.MEDIA_JOB_MAX_ATTEMPTS)
    tasks.jobs_rescue_task()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "stopped responding" in job.error


def test_soft_time_limit_fails_the_job_with_a_plain_reason(fs_storage, user):
    job = upload(user).job
    tasks.transcode_task.on_failure(SoftTimeLimitExceeded(), "tid", (str(job.id),), {}, None)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error == "Transcoding took longer than allowed for this file."
    assert workflow.stage_time_limits(100) == {"soft_time_limit": 1900, "time_limit": 2020}


def test_stale_work_directories_are_swept(settings, tmp_path):
    settings.MEDIA_WORK_DIR = tmp_path
    old, fresh = tmp_path / "job-old-transcoding", tmp_path / "job-new-transcoding"
    for path in (old, fresh):
        (path / "renditions").mkdir(parents=True)
        (path / "renditions" / "720p.mp4").write_bytes(b"x")
    old_frames, fresh_frames = tmp_path / "frames" / "old-asset", tmp_path / "frames" / "new-asset"
    for path in (old_frames, fresh_frames):
        path.mkdir(parents=True)
        (path / "tile-00001.bmp").write_bytes(b"x")
    past = time.time() - 7 * 3600
    for path in (old, old / "renditions", old / "renditions" / "720p.mp4", old_frames):
        os.utime(path, (past, past))
    assert rescue.workdirs_remove_stale(max_age_s=6 * 3600) == 2
    assert not old.exists() and fresh.exists()
    assert not old_frames.exists() and fresh_frames.exists()


def test_stale_multipart_uploads_are_aborted(s3_storage):
    client = s3_storage
    started = client.create_multipart_upload(Bucket=client.bucket, Key="originals/interrupted")
    client.upload_part(
        Bucket=client.bucket, Key="originals/interrupted", UploadId=started["UploadId"], PartNumber=1, Body=b"x" * 1024
    )
    # moto reports every upload as initiated in 2010, so here it is always "stale";
    # against MinIO or AWS a recent upload is left alone by the same comparison.
    assert storage.abort_incomplete_uploads(older_than_s=3600) >= 1
    remaining = client.list_multipart_uploads(Bucket=client.bucket).get("Uploads", [])
    assert all(u["UploadId"] != started["UploadId"] for u in remaining)


def test_frame_rate_limit(tmp_path):
    from media_tasks.pipeline.exceptions import MediaLimitError
    from media_tasks.pipeline.probe import ProbeLimits, probe
    from tests.media import make_video

    clip = make_video(Path(tmp_path) / "fast.mp4", width=160, height=120, duration=0.5, rate=120, audio=False)
    with pytest.raises(MediaLimitError, match="120 frames per second; the limit is 60"):
        probe(clip, ProbeLimits(max_duration_s=60, max_pixels=10**6, max_frame_rate=60))
