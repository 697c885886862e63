"""GPU and CPU workers on the real RabbitMQ: routing by detected capability, and every fallback.

No GPU exists here, so GPU boxes are played by a fake `ffmpeg` first on PATH
(tests/fakes/ffmpeg) that lists NVENC and either fails or passes the test encode;
when it "passes", libx264 does the encoding underneath.
"""

import shutil
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from media_tasks.models import Job, Worker
from mediaplatform.celery import app
from tests.e2e.test_upload_to_renditions import post, wait_for_job
from tests.media import make_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAKES = Path(__file__).resolve().parent.parent / "fakes"


def fake_gpu_env(nvenc: str) -> dict[str, str]:
    import os

    return {
        "PATH": f"{FAKES}:{os.environ['PATH']}",
        "FAKE_FFMPEG_REAL": shutil.which("ffmpeg"),
        "FAKE_NVENC": nvenc,
    }


def consumed_queues(worker) -> set[str]:
    replies = app.control.inspect(destination=[worker.name], timeout=5).active_queues() or {}
    return {q["name"] for q in replies.get(worker.name, [])}


@pytest.fixture
def clip(tmp_path) -> Path:
    return make_video(tmp_path / "clip.mp4", width=640, height=360, duration=2.0)


def test_listed_but_unusable_nvenc_keeps_a_worker_off_the_gpu_queue(start_worker):
    # Told to take the GPU queue (-Q), yet its test encode fails: detection overrules.
    worker = start_worker(
        "nvenc-broken",
        queues=[settings.MEDIA_QUEUE_TRANSCODE_GPU, settings.MEDIA_QUEUE_TRANSCODE_CPU],
        **fake_gpu_env("fail"),
    )
    registered = Worker.objects.get(hostname=worker.name)
    assert registered.gpu_encoder == ""
    assert "Driver does not support the required nvenc API version" in registered.capabilities["reason"]
    assert consumed_queues(worker) == {settings.MEDIA_QUEUE_TRANSCODE_CPU}
    assert "is CPU only" in worker.log_tail(20000)


def test_gpu_worker_takes_gpu_work_and_records_its_encoder(start_worker, celery_worker, alice_client, s3_storage, clip):
    gpu = start_worker("nvenc-ok", queues=[settings.MEDIA_QUEUE_TRANSCODE_GPU], **fake_gpu_env("pass"))
    assert consumed_queues(gpu) == {settings.MEDIA_QUEUE_TRANSCODE_GPU}
    job, _ = wait_for_job(post(alice_client, clip)["job_id"], celery_worker)
    assert job.status == Job.Status.SUCCEEDED, job.error
    mp4 = job.asset.renditions.get(kind="mp4")
    assert (mp4.encoder, mp4.worker_hostname) == ("h264_nvenc", gpu.name)
    assert job.asset.renditions.get(kind="poster").worker_hostname == celery_worker.name
    status = alice_client.get(reverse("asset_status", args=[job.asset_id]), HTTP_ACCEPT="application/json").json()
    (listed,) = [r for r in status["renditions"] if r["kind"] == "mp4"]
    assert (listed["encoder"], listed["worker"], listed["width"]) == ("h264_nvenc", gpu.name, 640)


def test_gpu_failure_at_run_time_sends_the_work_back_to_the_cpu_queue(
    start_worker, celery_worker, alice_client, s3_storage, clip
):
    gpu = start_worker("nvenc-flaky", queues=[settings.MEDIA_QUEUE_TRANSCODE_GPU], **fake_gpu_env("runtime-fail"))
    assert Worker.objects.get(hostname=gpu.name).gpu_encoder == "h264_nvenc"
    job, _ = wait_for_job(post(alice_client, clip)["job_id"], celery_worker)
    assert job.status == Job.Status.SUCCEEDED, job.error
    mp4 = job.asset.renditions.get(kind="mp4")
    assert (mp4.encoder, mp4.worker_hostname) == ("libx264", celery_worker.name)
    assert "handing it to the CPU queue" in gpu.log_tail(20000)
    assert job.events.filter(type="note", message__startswith="h264_nvenc failed", worker_hostname=gpu.name).exists()


def test_gpu_queue_nobody_consumes_spills_to_the_cpu_queue(celery_worker, alice_client, s3_storage, clip):
    # A GPU worker that registered and then vanished without a goodbye (power cut).
    Worker.objects.create(
        hostname="ghost@gpu", gpu_encoder="h264_nvenc", started_at=timezone.now(), last_seen_at=timezone.now()
    )
    started = time.monotonic()
    job, _ = wait_for_job(post(alice_client, clip)["job_id"], celery_worker)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert time.monotonic() - started >= settings.MEDIA_GPU_QUEUE_TTL_S
    assert job.asset.renditions.get(kind="mp4").encoder == "libx264"
