"""The web process gives up on storage and the broker in bounded time.

A storage endpoint that accepts connections and never answers (paused S3): an upload
request answers 503 `storage_unavailable` after the web's few bounded attempts, instead of
hanging past the client's own timeout. A broker that accepts TCP and never speaks AMQP
(a wedged or blocked RabbitMQ): completing an upload still answers 202, and the job is
left for `jobs_rescue`, in a real web process (gunicorn, as the Procfile runs it).
"""

import hashlib
import os
import signal
import subprocess
from datetime import timedelta

import pytest
import requests
from django.conf import settings as django_settings
from django.utils import timezone

from media_tasks import presenters, storage
from media_tasks.models import Asset, Job
from media_tasks.processing import rescue
from tests.conftest import BIN, S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, free_port, wait_until, worker_env
from tests.tcp_proxy import SilentServer, TcpProxy

pytestmark = pytest.mark.django_db(transaction=True)

# Far above what the bounded attempts take, far below what unbounded ones would.
CLIENT_TIMEOUT_S = 90
GUNICORN_OPTIONS = ["--worker-class", "gthread", "--workers", "1", "--threads", "4", "--timeout", "300"]


@pytest.fixture
def silent():
    server = SilentServer().start()
    yield server
    server.stop()


@pytest.fixture
def paused_s3(settings, silent):
    """S3 settings as deployed (the web's client config included), the endpoint paused."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                **settings.S3_OPTIONS,
                "bucket_name": "paused",
                "endpoint_url": silent.url,
                "access_key": S3_ACCESS_KEY,
                "secret_key": S3_SECRET_KEY,
                "region_name": S3_REGION,
            },
        },
    }
    return silent


def test_an_upload_answers_503_when_storage_does_not_answer(live_server, paused_s3, token):
    response = requests.post(
        f"{live_server.url}/api/v1/uploads",
        json={"filename": "clip.mp4", "size": 10 * 1024 * 1024},
        headers={"Authorization": f"Bearer {token}"},
        timeout=CLIENT_TIMEOUT_S,
    )
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert response.headers["Retry-After"]
    assert paused_s3.accepted == django_settings.MEDIA_WEB_S3_MAX_ATTEMPTS  # one connection per attempt


def test_a_playback_link_answers_503_when_storage_does_not_answer(live_server, paused_s3, user):
    asset = Asset.objects.create(owner=user, original_key="originals/x/source", original_filename="x.mp4", size_bytes=1)
    response = requests.get(live_server.url + presenters.playback_url(asset=asset), timeout=CLIENT_TIMEOUT_S)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    assert paused_s3.accepted == django_settings.MEDIA_WEB_S3_MAX_ATTEMPTS


@pytest.fixture
def web(tmp_path, delete_test_queues):
    """Start gunicorn serving the app as the Procfile runs it, on this run's database and
    queues, with a given broker URL; stopped (its whole process group) after the test."""
    started: list[tuple[subprocess.Popen, object]] = []

    def start(broker_url: str) -> str:
        port, log_path = free_port(), tmp_path / f"web-{len(started)}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "mediaplatform.wsgi", "--bind", f"127.0.0.1:{port}", *GUNICORN_OPTIONS],
            env=worker_env(CELERY_BROKER_URL=broker_url),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append((proc, log))
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return requests.get(url + "/api/v1/openapi.json", timeout=5).status_code == 200
            except requests.RequestException:
                return proc.poll() is not None

        wait_until(up, 60, "gunicorn to answer")
        assert proc.poll() is None, log_path.read_text()
        return url

    yield start
    for proc, log in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # its workers too, even one stuck publishing
            proc.wait()
        log.close()


def upload(base: str, token: str, data: bytes) -> requests.Response:
    """A direct upload through the API (filesystem backend: the part comes to us): start, part, complete."""
    url, auth = base + "/api/v1/uploads", {"Authorization": f"Bearer {token}"}
    started = requests.post(url, json={"filename": "a.mp4", "size": len(data)}, headers=auth, timeout=30)
    assert started.status_code == 201, started.text
    upload_id = started.json()["upload_id"]
    part = requests.put(f"{url}/{upload_id}/parts/1", data=data, headers=auth, timeout=30)
    assert part.status_code == 200, part.text
    etag = f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'
    return requests.post(
        f"{url}/{upload_id}/complete",
        json={"parts": [{"part_number": 1, "etag": etag}]},
        headers=auth,
        timeout=CLIENT_TIMEOUT_S,
    )


def assert_left_for_the_rescue(job_id: str) -> None:
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.enqueued_at) == (Job.Status.QUEUED, None)
    # A minute later jobs_rescue publishes it (its rule, checked here without the wait).
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    never_queued, _ = rescue.jobs_needing_rescue()
    assert job.pk in [j.pk for j in never_queued]


def test_completing_an_upload_answers_when_the_broker_stops_reading(web, token):
    """RabbitMQ under a memory alarm: the web's pooled connection stays open, publishes go unread."""
    proxy = TcpProxy(5672).start()
    try:
        base = web(f"amqp://guest:guest@127.0.0.1:{proxy.port}//")
        first = upload(base, token, b"first file " * 1000)
        assert first.status_code == 202, first.text
        assert Job.objects.get(pk=first.json()["job_id"]).enqueued_at is not None  # published: the broker works
        proxy.pause()
        done = upload(base, token, b"second file " * 1000)
        assert done.status_code == 202, done.text
        listing = requests.get(base + "/api/v1/assets", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert listing.status_code == 200  # the web's threads are free again
        assert_left_for_the_rescue(done.json()["job_id"])
    finally:
        proxy.stop()


def test_completing_an_upload_answers_when_the_broker_never_speaks(web, silent, token):
    """A listener that accepts TCP and never speaks AMQP (a wedged broker, a wrong port)."""
    base = web(f"amqp://guest:guest@127.0.0.1:{silent.port}//")
    done = upload(base, token, b"not a video, but bytes all the same" * 1000)
    assert done.status_code == 202, done.text
    assert silent.accepted >= 1, "the web did try the broker"
    assert_left_for_the_rescue(done.json()["job_id"])


def test_a_worker_keeps_botocores_longer_s3_timeouts(s3_storage):
    """The short timeouts are the web's: a worker's transfers are long and Celery retries them."""
    web = storage.get_storage().client_config
    assert (web.connect_timeout, web.read_timeout, web.retries["total_max_attempts"]) == (3, 10, 2)
    storage.use_worker_client_config()  # what a worker does as it starts, before any S3 call (worker.py)
    client = storage.get_storage().connection.meta.client
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (60, 60)  # botocore's defaults
    assert "total_max_attempts" not in (config.retries or {})
    assert client.head_bucket(Bucket=s3_storage.bucket)  # and it reaches S3 as before
