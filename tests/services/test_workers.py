"""The worker registry and capability routing (which transcode queue a job goes to)."""

from datetime import timedelta

import boto3
import pytest
from celery import signals
from django.utils import timezone

from media_tasks import selectors, services, storage
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


def test_a_pool_process_makes_its_storage_client_before_its_first_job(s3_storage, tmp_path, monkeypatch):
    """Celery's worker_process_init (sent in each pool process as it starts) makes the S3 client,
    so the process's first job does not spend 0.15 to 0.25 s of CPU on it."""
    made = []
    resource = boto3.session.Session.resource

    def counted(self, *args, **kwargs):
        made.append(args)
        return resource(self, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "resource", counted)
    signals.worker_process_init.send(sender=None)
    assert made == [("s3",)]
    path = tmp_path / "poster.jpg"
    path.write_bytes(b"\xff\xd8 not really a picture")
    key = storage.asset_key(storage.THUMBS, JOB, "poster.jpg")
    storage.upload_files({path: key})
    assert made == [("s3",)], "the first transfer made a client of its own"
    assert s3_storage.get_object(Bucket=s3_storage.bucket, Key=key)["Body"].read() == path.read_bytes()


def test_a_storage_client_that_cannot_be_made_does_not_stop_the_pool_process(s3_storage, monkeypatch, caplog):
    def broken(self, *args, **kwargs):
        raise RuntimeError("no botocore data")

    monkeypatch.setattr(boto3.session.Session, "resource", broken)
    signals.worker_process_init.send(sender=None)
    assert "could not prepare the storage client" in caplog.text
