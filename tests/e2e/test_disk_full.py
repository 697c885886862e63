"""A worker whose work disk fills up mid-transcode: the job waits for disk space (said by the API and
the page), never fails blaming the video, and finishes once there is room. Real worker on
RabbitMQ with MEDIA_WORK_DIR on a small tmpfs of its own, real ffmpeg, moto S3."""

import subprocess

import pytest
from django.urls import reverse

from media_tasks.models import Job
from tests.conftest import wait_until
from tests.e2e.test_faults import assert_valid_video_job
from tests.e2e.test_upload_to_renditions import post, wait_for_job
from tests.media import make_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clip(tmp_path):
    return make_video(tmp_path / "big.mp4", width=1280, height=720, duration=6.0, tone=330)


@pytest.fixture
def small_work_disk(clip, tmp_path):
    """A tmpfs with room for the source copy the probe makes, not for the ladder the transcode
    writes; unmounted after the workers that use it have stopped (set up before them)."""
    work = tmp_path / "work"
    work.mkdir()
    size = clip.stat().st_size + 256 * 1024
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(work)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here (root needed): {done.stderr.decode().strip()}")
    yield work
    subprocess.run(["umount", "-l", str(work)], check=False)


def test_a_full_work_disk_makes_the_job_wait_not_fail(
    small_work_disk, clip, without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    work = small_work_disk
    worker = start_worker("full-disk", concurrency=1, MEDIA_WORK_DIR=str(work), MEDIA_STORAGE_RETRY_BACKOFF_MAX_S="1")
    accepted = post(alice_client, clip)
    job_id, asset_url = accepted["job_id"], f"/api/v1/assets/{accepted['asset_id']}"
    waiting = wait_until(
        lambda: (
            (
                (data := alice_client.get(asset_url).json())["waiting_for"] == "disk"
                or data["status"] in ("failed", "succeeded", "cancelled")
            )
            and data
        ),
        120,
        "the API to say the job waits for disk space",
    )
    assert waiting["status"] == "transcoding", (waiting["status"], waiting["error"])
    page = alice_client.get(reverse("asset_detail", args=[accepted["asset_id"]])).content.decode()
    before = worker.log_tail(500_000).count("Retry in")
    wait_until(lambda: worker.log_tail(500_000).count("Retry in") > before + 2, 60, "more tries on a full disk")
    assert Job.objects.get(pk=job_id).status == "transcoding"
    subprocess.run(["mount", "-o", "remount,size=256m", str(work)], check=True)  # room again
    job, _ = wait_for_job(job_id, worker, timeout=300)
    print(f"\nwork disk full: API said {waiting['stage']!r} waiting_for={waiting['waiting_for']!r}; then {job.status}")
    assert_valid_video_job(job, s3_storage, tmp_path)
    assert "waiting for disk space" in waiting["stage"].lower()
    assert "Waiting for disk space" in page
    assert job.events.filter(message__icontains="waiting for disk space").exists()
    log = worker.log_tail(500_000)
    # The disk is named as the cause, whichever write met it first: an encode's ffmpeg (ENOSPC) or
    # the ladder's analysis, whose sample cut short is the disk's fault once it is full.
    assert "could not be processed" not in log and "The work disk is full" in log
    assert job.waiting_for == ""
