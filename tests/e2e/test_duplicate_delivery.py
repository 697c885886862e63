"""A stage delivered twice at once (a publish reported as failed that arrived anyway, then sent
again by jobs_rescue) runs once: the second delivery finds the stage running on a live worker
and waits instead of starting a second encode beside it. Two real workers on RabbitMQ."""

import re

import pytest

from media_tasks import tasks
from media_tasks.models import Job
from tests.conftest import wait_until
from tests.e2e.test_cancel import ffmpeg_processes_for
from tests.e2e.test_faults import assert_valid_video_job, job_in
from tests.e2e.test_upload_to_renditions import post, wait_for_job
from tests.media import make_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_stage_delivered_twice_at_once_runs_once(
    without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    first, second = (start_worker(f"dup{i}", concurrency=1) for i in range(2))
    clip = make_video(tmp_path / "dup.mp4", width=1280, height=720, duration=8.0, tone=660)
    job_id = post(alice_client, clip)["job_id"]
    wait_until(
        lambda: job_in(job_id, "transcoding", 6) and ffmpeg_processes_for(job_id), 120, "the encode to be running"
    )
    # The same stage again, as the rescue would send it, and the probe too: the idle worker takes them.
    tasks.transcode_task.si(job_id).delay()
    tasks.probe_task.delay(job_id)
    job, _ = wait_for_job(job_id, first, timeout=300)
    logs = first.log_tail(1_000_000) + second.log_tail(1_000_000)
    encodes = re.findall(rf"job {job_id}: \d+ rungs encoded", logs)
    print(f"\nduplicate delivery: {len(encodes)} encode(s); job {job.status}; events: "
          f"{list(job.events.values_list('message', flat=True))}")  # fmt: skip
    assert_valid_video_job(job, s3_storage, tmp_path)
    assert len(encodes) == 1, encodes
    assert not job.events.filter(message__contains="started again").exists()
    assert len(re.findall(rf"job {job_id} succeeded", logs)) == 1
    assert Job.objects.get(pk=job_id).attempts == 1
    assert "Traceback" not in logs
