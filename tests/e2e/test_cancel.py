"""Cancelling a running transcode from the admin stops its ffmpeg, not only the job's status."""

import time
from pathlib import Path

import pytest
from django.urls import reverse

from media_tasks.models import Job
from tests.conftest import wait_until
from tests.e2e.test_upload_to_renditions import post
from tests.media import make_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ffmpeg_processes_for(job_id: str) -> list[int]:
    """PIDs of ffmpeg processes working in this job's temp directory (its path names the job),
    named on the command line or, for the encodes that run inside it, as their working directory."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            cwd = str((proc / "cwd").readlink()).encode()
        except OSError:
            continue
        if b"ffmpeg" in cmdline.split(b" ", 1)[0] and job_id.encode() in cmdline + cwd:
            pids.append(int(proc.name))
    return pids


def test_admin_cancel_stops_ffmpeg(celery_worker, s3_storage, alice_client, admin_client, tmp_path):
    clip = make_video(tmp_path / "long.mp4", width=1920, height=1080, duration=8.0, tone=660)
    job_id = post(alice_client, clip)["job_id"]
    wait_until(
        lambda: ffmpeg_processes_for(job_id) and Job.objects.get(pk=job_id).progress > 6,
        120,
        "the transcode's ffmpeg to be running",
    )
    admin_client.post(reverse("admin:media_tasks_job_changelist"), {"action": "cancel", "_selected_action": [job_id]})
    cancelled_at = time.monotonic()
    wait_until(lambda: not ffmpeg_processes_for(job_id), 10, "ffmpeg to stop after the cancel")
    print(f"\nffmpeg stopped {time.monotonic() - cancelled_at:.1f}s after the cancel")
    time.sleep(2)  # the chain's later stages arrive and must do nothing
    job = Job.objects.get(pk=job_id)
    assert job.status == Job.Status.CANCELLED
    assert not job.asset.renditions.exists()
    assert celery_worker.alive()
