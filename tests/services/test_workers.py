"""The worker registry and capability routing (which transcode queue a job goes to)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from media_tasks import selectors, services
from media_tasks.models import Worker
from media_tasks.pipeline.encoders import WorkerCapabilities
from media_tasks.tasks import _transcode_signature

JOB = "00000000-0000-0000-0000-0000000000a1"  # no such job: routing needs no row

pytestmark = pytest.mark.django_db

GPU = WorkerCapabilities(gpu_encoder="h264_nvenc", reason="h264_nvenc passed a test encode")
CPU = WorkerCapabilities(reason="no hardware encoder passed a test encode")


def test_no_gpu_worker_means_the_cpu_queue(settings):
    services.worker_register(hostname="cpu@a", capabilities=CPU)
    assert not selectors.gpu_worker_online()
    assert _transcode_signature(JOB).options["queue"] == settings.MEDIA_QUEUE_TRANSCODE_CPU


def test_live_gpu_worker_attracts_transcodes(settings):
    services.worker_register(hostname="gpu@b", capabilities=GPU)
    assert selectors.gpu_worker_online()
    signature = _transcode_signature(JOB)
    assert signature.options["queue"] == settings.MEDIA_QUEUE_TRANSCODE_GPU
    assert signature.args == (JOB,)
    worker = Worker.objects.get(hostname="gpu@b")
    assert worker.capabilities["reason"] == "h264_nvenc passed a test encode"


def test_silent_or_stopped_gpu_workers_stop_attracting_work(settings):
    services.worker_register(hostname="gpu@b", capabilities=GPU)
    Worker.objects.update(last_seen_at=timezone.now() - timedelta(seconds=settings.MEDIA_WORKER_STALE_S + 5))
    assert not selectors.gpu_worker_online()
    services.worker_heartbeat(hostname="gpu@b", capabilities=GPU)
    assert selectors.gpu_worker_online()
    services.worker_unregister(hostname="gpu@b")
    assert not selectors.gpu_worker_online()


def test_heartbeat_re_registers_a_pruned_worker_and_prune_drops_old_rows():
    services.worker_heartbeat(hostname="gpu@c", capabilities=GPU)
    assert Worker.objects.get(hostname="gpu@c").gpu_encoder == "h264_nvenc"
    Worker.objects.update(last_seen_at=timezone.now() - timedelta(days=2))
    services.worker_register(hostname="cpu@d", capabilities=CPU)
    assert services.worker_prune(older_than_s=86400) == 1
    assert list(Worker.objects.values_list("hostname", flat=True)) == ["cpu@d"]
