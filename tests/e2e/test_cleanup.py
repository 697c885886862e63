"""A job that ends without success leaves no local copy behind on the worker that ran it:
no source copy (MEDIA_WORK_DIR/sources/<asset>), no job-<id>-* work directory, no frames.
Real worker on RabbitMQ, moto S3, ffmpeg."""

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
