"""Deliveries of a job's messages: one that arrived although its publish was reported as failed
counts as queued, so the rescue does not send it again. A job that ends without success leaves
no early HLS in storage (the e2e with a real worker: tests/e2e/test_cleanup.py)."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from media_tasks import storage
from media_tasks.models import Job, Worker
from media_tasks.processing import probe, rescue, runtime, transitions
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


# What the early publisher stores (processing.early_hls): the master, and the lead's and the
# sound's init sections, segments and playlists, two directories deep.
EARLY_NAMES = (
    "master.m3u8",
    "video/360p-h264/init.mp4",
    "video/360p-h264/seg_00000.m4s",
    "video/360p-h264/index.m3u8",
    "audio/128k-aac/init.mp4",
    "audio/128k-aac/seg_00000.m4s",
    "audio/128k-aac/index.m3u8",
)


def stored_hls(asset_id) -> list[str]:
    return [key for key in (f"hls/{asset_id}/{name}" for name in EARLY_NAMES) if storage.exists(key)]


@pytest.mark.parametrize("backend", ["fs_storage", "s3_storage"])
def test_early_hls_goes_with_a_job_that_ended_without_success(request, backend, user, small_video, tmp_path):
    """What the worker that sees the end runs (runtime.job_discard_local_copies) removes the early
    HLS of a failed job; a job still running (waiting for disk space, say) keeps it."""
    request.getfixturevalue(backend)
    job = upload(small_video, user)
    piece = tmp_path / "piece"
    piece.write_text("#EXTM3U\n")
    for name in EARLY_NAMES:
        storage.replace_file(piece, storage.asset_key(storage.HLS, job.asset_id, name))
    Job.objects.filter(pk=job.pk).update(status=Job.Status.TRANSCODING)
    runtime.job_discard_local_copies(job_id=job.id)  # as for a disk-full retry: the job goes on
    assert len(stored_hls(job.asset_id)) == len(EARLY_NAMES)
    transitions.job_mark_failed(job_id=job.id, reason="The encoder was killed on each try.")
    runtime.job_discard_local_copies(job_id=job.id)
    assert stored_hls(job.asset_id) == []


def test_a_redelivery_to_the_worker_whose_process_was_killed_takes_the_stage_at_once(
    fs_storage, user, small_video, tmp_path, settings
):
    """The pool process running a stage was SIGKILLed (the OOM killer, a poison file): its
    heartbeat is still fresh and its worker alive in the registry, yet the redelivery to that
    worker runs the stage again at once, since this machine's stage lock is free. While the
    lock's holder lives, the same delivery waits (StageRunning)."""
    job = upload(small_video, user)
    probe.job_probe(job_id=job.id, worker="w1@host")
    Worker.objects.create(
        hostname="w1@host", started_at=timezone.now() - timedelta(minutes=5), last_seen_at=timezone.now()
    )
    transitions.job_advance(job_id=job.id, to=Job.Status.TRANSCODING, worker="w1@host")  # beat: now
    lock = Path(settings.MEDIA_WORK_DIR) / runtime.STAGE_LOCKS / f"job-{job.id}-transcoding"
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(  # the pool process, holding the lock as runtime.stage_lock does
        [sys.executable, "-c", HOLD_LOCK, str(lock)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    ran = []
    work = lambda job, workdir: ran.append(workdir)  # noqa: E731
    with pytest.raises(transitions.StageRunning):
        runtime.run_stage(job_id=job.id, stage=Job.Status.TRANSCODING, worker="w1@host", work=work)
    holder.kill()
    holder.wait()
    assert runtime.run_stage(job_id=job.id, stage=Job.Status.TRANSCODING, worker="w1@host", work=work)
    assert len(ran) == 1
    assert job.events.filter(message__contains="started again").exists()


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(120)
"""
