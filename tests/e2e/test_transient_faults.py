"""Transient faults delay a job, never fail it: an encoder killed by a signal, a storage outage
longer than the bounded retries. Real worker, real RabbitMQ, real ffmpeg, moto_server."""

import itertools
import os
import re
import signal
import time

import pytest
from django.urls import reverse

from media_tasks.models import Job
from tests.conftest import wait_until
from tests.e2e.test_cancel import ffmpeg_processes_for
from tests.e2e.test_faults import assert_valid_video_job, job_in
from tests.e2e.test_upload_to_renditions import post, wait_for_job
from tests.media import make_video
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_encoder_killed_by_sigkill_mid_encode_is_retried(
    without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    """The kernel's OOM killer picks ffmpeg, not the worker: the job is tried again and succeeds."""
    worker = start_worker("oom", concurrency=1)
    clip = make_video(tmp_path / "oom.mp4", width=1920, height=1080, duration=6.0, tone=440)
    job_id = post(alice_client, clip)["job_id"]
    pids = wait_until(
        lambda: job_in(job_id, "transcoding", 6) and ffmpeg_processes_for(job_id), 120, "the encode to be running"
    )
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    job, seen = wait_for_job(job_id, worker, timeout=300)
    print(f"\nffmpeg SIGKILLed mid-encode (pids {pids}): job {job.status} {job.error!r}, progress {seen}")
    assert_valid_video_job(job, s3_storage, tmp_path)
    assert worker.alive()
    assert job.events.filter(message__contains="killed by a signal").exists()
    assert len(re.findall(rf"job {job_id}: \d+ rungs encoded", worker.log_tail(500_000))) == 1


def test_storage_outage_longer_than_the_retry_budget_delays_the_job(
    without_session_worker, start_worker, alice_client, s3_storage, s3_server, tmp_path
):
    """S3 refuses connections from mid-encode until well past what the bounded retries allow
    (3 retries at most 1 s apart here): the job waits for storage, then stores the encode it made."""
    proxy = TcpProxy(int(s3_server.rsplit(":", 1)[1])).start()
    budget = {
        "MEDIA_TASK_MAX_RETRIES": "3",
        "MEDIA_TASK_RETRY_BACKOFF_MAX_S": "1",
        "MEDIA_STORAGE_RETRY_BACKOFF_MAX_S": "1",
    }
    try:
        worker = start_worker("s3-down", concurrency=1, s3_endpoint=proxy.url, **budget)
        accepted = post(alice_client, make_video(tmp_path / "o.mp4", width=1280, height=720, duration=4.0))
        job_id, asset_url = accepted["job_id"], f"/api/v1/assets/{accepted['asset_id']}"
        wait_until(lambda: job_in(job_id, "transcoding", 6), 120, "the encode to be under way")
        proxy.stop()
        refused_at = time.monotonic()
        waiting = wait_until(
            lambda: (
                (data := alice_client.get(asset_url).json())["waiting_for" if "waiting_for" in data else "status"]
                in ("storage", "failed", "succeeded", "cancelled")
                and data
            ),
            120,
            "the API to say the job waits for storage",
        )
        assert waiting["status"] == "transcoding", (waiting["status"], waiting["error"])
        retries_before = worker.log_tail(500_000).count("Retry in")
        past_budget = lambda: worker.log_tail(500_000).count("Retry in") > retries_before + 5  # noqa: E731
        wait_until(past_budget, 120, "retries past the budget")
        page = alice_client.get(reverse("asset_detail", args=[accepted["asset_id"]])).content.decode()
        assert Job.objects.get(pk=job_id).status == "transcoding"
        proxy.start()
        outage_s = time.monotonic() - refused_at
        job, seen = wait_for_job(job_id, worker, timeout=300)
    finally:
        proxy.stop()
    log = worker.log_tail(500_000)
    print(
        f"\nS3 refused for {outage_s:.0f} s, {log.count('Retry in')} retries (bounded budget: 3 retries, "
        f"at most 1 s apart): job {job.status} {job.error!r}; "
        f"API said {waiting['stage']!r}; progress {seen}"
    )
    assert_valid_video_job(job, s3_storage, tmp_path)
    assert waiting["waiting_for"] == "storage" and "waiting for storage" in waiting["stage"].lower()
    assert "Waiting for storage" in page
    assert all(b >= a for a, b in itertools.pairwise(seen)), seen  # never back to 5 %
    assert len(re.findall(rf"job {job_id}: \d+ rungs encoded", log)) == 1  # the encode ran once
    assert job.events.filter(message__icontains="waiting for storage").count() == 1
    assert job.waiting_for == ""
