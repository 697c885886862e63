"""A job that ends without success leaves no local copy behind on the worker that ran it:
no source copy (MEDIA_WORK_DIR/sources/<asset>), no job-<id>-* work directory, no frames.
Real worker on RabbitMQ, moto S3, ffmpeg."""

import os
import signal
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from media_tasks.models import Job
from tests.conftest import wait_until
from tests.e2e.test_cancel import ffmpeg_processes_for
from tests.e2e.test_faults import job_in
from tests.e2e.test_upload_to_renditions import post, wait_for_job
from tests.media import make_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def local_copies(job_id: str, asset_id: str) -> list[Path]:
    root = Path(settings.MEDIA_WORK_DIR)
    candidates = [root / "sources" / asset_id, root / "frames" / asset_id, *root.glob(f"job-{job_id}-*")]
    return [path for path in candidates if path.exists()]


def assert_copies_go(job_id: str, asset_id: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while (left := local_copies(job_id, asset_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"still on the worker's disk after the job ended: {left}"


def test_failed_job_leaves_no_source_copy(without_session_worker, start_worker, alice_client, s3_storage, tmp_path):
    """The probe downloads the source, then refuses it (over the duration limit): the copy goes with the job."""
    worker = start_worker("strict", concurrency=1, MEDIA_MAX_DURATION_S="1")
    accepted = post(alice_client, make_video(tmp_path / "long.mp4", width=320, height=240, duration=3.0))
    job, _ = wait_for_job(accepted["job_id"], worker, timeout=120)
    assert job.status == Job.Status.FAILED, job.error
    assert_copies_go(str(job.id), accepted["asset_id"])


@pytest.mark.parametrize("how", ["cancel", "delete"])
def test_job_stopped_mid_transcode_leaves_no_local_copy(how, celery_worker, s3_storage, alice_client, tmp_path):
    clip = make_video(tmp_path / "long.mp4", width=1920, height=1080, duration=8.0, tone=550)
    accepted = post(alice_client, clip)
    job_id, asset_id = accepted["job_id"], accepted["asset_id"]
    wait_until(
        lambda: ffmpeg_processes_for(job_id) and job_in(job_id, "transcoding", 6), 120, "the encode to be running"
    )
    assert local_copies(job_id, asset_id)  # the source copy and the transcode's work directory
    if how == "cancel":
        alice_client.post(reverse("asset_cancel", args=[asset_id]))
        assert Job.objects.get(pk=job_id).status == Job.Status.CANCELLED
    else:
        assert alice_client.delete(f"/api/v1/assets/{asset_id}").status_code == 204
    wait_until(lambda: not ffmpeg_processes_for(job_id), 30, "ffmpeg to stop")
    assert_copies_go(job_id, asset_id)
    assert celery_worker.alive()


def hls_keys(s3, asset_id: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=s3.bucket, Prefix=f"hls/{asset_id}/")
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.mark.parametrize("how", ["failed", "cancelled"])
def test_a_job_ended_without_success_removes_what_it_published_early(
    how, without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    """Playable mid-encode (master, the lead rung's playlist and segments on S3), then the job fails
    (ffmpeg killed, no retries left) or is cancelled: none of those files stay in storage."""
    worker = start_worker("early", concurrency=1, MEDIA_TASK_MAX_RETRIES="0")
    clip = make_video(tmp_path / "early.mp4", width=1280, height=720, duration=20.0, noise=True)
    accepted = post(alice_client, clip)
    job_id, asset_id = accepted["job_id"], accepted["asset_id"]
    wait_until(lambda: Job.objects.get(pk=job_id).playable_at, 180, "the job to be playable mid-encode")
    published = hls_keys(s3_storage, asset_id)
    assert any(key.endswith("master.m3u8") for key in published), published
    assert Job.objects.get(pk=job_id).status == Job.Status.TRANSCODING
    if how == "cancelled":
        alice_client.post(reverse("asset_cancel", args=[asset_id]))
    else:
        for pid in ffmpeg_processes_for(job_id):
            os.kill(pid, signal.SIGKILL)
    job, _ = wait_for_job(job_id, worker, timeout=120)
    assert job.status == how, job.error
    wait_until(lambda: not ffmpeg_processes_for(job_id), 30, "ffmpeg to stop")
    deadline = time.monotonic() + 20
    while (left := hls_keys(s3_storage, asset_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    print(f"\n{how} after early publish: {len(published)} HLS files were stored, {len(left)} left: {left}")
    assert not left, f"{how} job left its early HLS in storage: {left}"
    assert job.asset.renditions.count() == 0
