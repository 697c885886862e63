"""Fixtures for the real parts: a storage backend per test, an S3 endpoint, Celery workers.

The S3 endpoint is `moto_server` on a free local port: a real HTTP S3 API that the
product code talks to exactly as it talks to MinIO.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from django.conf import settings
from django.db import connection

S3_ACCESS_KEY = "testing"
S3_SECRET_KEY = "testing"
S3_REGION = "us-east-1"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def stop_process(proc: subprocess.Popen, grace: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- Storage -------------------------------------------------------------------


@pytest.fixture
def fs_storage(settings, tmp_path):
    """Django's filesystem storage in a fresh directory (the `make run` default)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage"), "allow_overwrite": True},
        },
    }
    return tmp_path / "storage"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    endpoint = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    try:
        wait_until(up, 30, "moto_server to listen")
        yield endpoint
    finally:
        stop_process(proc, grace=5)
        log.close()


@pytest.fixture(scope="session")
def s3_bucket(s3_server) -> str:
    bucket = f"media-test-{uuid.uuid4().hex[:8]}"
    s3_client(s3_server).create_bucket(Bucket=bucket)
    return bucket


def s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        region_name=S3_REGION,
    )


def s3_env(endpoint: str, bucket: str) -> dict[str, str]:
    """The environment a process needs to use the test S3 endpoint, as an operator would set it."""
    return {
        "S3_ENDPOINT_URL": endpoint,
        "S3_BUCKET": bucket,
        "S3_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        "S3_REGION": S3_REGION,
    }


@pytest.fixture
def s3_storage(settings, s3_server, s3_bucket):
    """Switch this test's default storage to S3 on the moto endpoint; yields a boto3 client."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                **settings.S3_OPTIONS,
                "bucket_name": s3_bucket,
                "endpoint_url": s3_server,
                "access_key": S3_ACCESS_KEY,
                "secret_key": S3_SECRET_KEY,
                "region_name": S3_REGION,
            },
        },
    }
    client = s3_client(s3_server)
    client.bucket = s3_bucket
    return client


# --- Users -----------------------------------------------------------------------


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="alice-password-1")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="mallory", password="mallory-password-1")


@pytest.fixture
def token(user) -> str:
    """An API token of alice's."""
    from media_tasks import services  # not at the top: this file is read before Django is set up

    return services.api_token_create(owner=user, name="tests").plaintext


@pytest.fixture
def api(client, token):
    """A Django test client that sends alice's API token."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def alice_client(client, user):
    client.force_login(user)
    return client


# --- Celery workers ------------------------------------------------------------------


def database_url() -> str:
    """The URL of the database this test run uses (the test database, once created)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    """A real `celery worker` subprocess on the real RabbitMQ."""

    def __init__(
        self, env: dict[str, str], log_path: Path, name: str, concurrency: int = 2, queues: list[str] | None = None
    ):
        self.log_path = log_path
        self.name = f"{name}@{socket.gethostname()}"
        # By default what a worker started without -Q takes: the short and CPU queues,
        # plus the GPU queue if its encoder detection allows it.
        queues = ",".join(queues or [settings.MEDIA_QUEUE_SHORT, settings.MEDIA_QUEUE_TRANSCODE_CPU])
        self.cmd = [
            str(BIN / "celery"),
            "-A",
            "mediaplatform",
            "worker",
            "-l",
            "info",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "-n",
            self.name,
            "--without-gossip",
            "--without-mingle",
        ]
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        """Start (or restart: the log is appended to) and wait until the worker says it is ready."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

        def ready() -> bool:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                return b"ready." in fh.read() or self._died()

        wait_until(ready, 60, "the celery worker to be ready")
        if self.proc.poll() is not None:
            pytest.fail(f"celery worker exited at start:\n{self.log_path.read_text()[-3000:]}")
        return self

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self._log.close()

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool), as a power cut or the OOM killer would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self._log.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def worker_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "S3_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="mediaplatform.settings",
        DATABASE_URL=database_url(),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@pytest.fixture(scope="session")
def delete_test_queues():
    """Remove this run's queues from the shared RabbitMQ when the session ends."""
    yield
    from mediaplatform.celery import app

    try:
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            names = [queue.name for queue in settings.CELERY_TASK_QUEUES] + [settings.MEDIA_QUEUE_DEAD]
            for name in names:  # each queue's exchange has its name
                channel.queue_delete(name)
                channel.exchange_delete(name)
            channel.exchange_delete(settings.CELERY_EVENT_EXCHANGE)  # durable, named by the prefix
    except Exception as exc:
        print(f"could not delete test queues: {exc}", file=sys.stderr)


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, s3_server, s3_bucket, tmp_path_factory, delete_test_queues):
    """One real worker for the e2e tests, on this run's queues, test database and S3 bucket."""
    with django_db_blocker.unblock():
        env = worker_env(**s3_env(s3_server, s3_bucket))
    worker = WorkerProcess(env, tmp_path_factory.mktemp("worker") / "worker.log", f"e2e-{uuid.uuid4().hex[:6]}")
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def start_worker(celery_worker, django_db_blocker, s3_server, s3_bucket, tmp_path):
    """Start extra workers for one test (a fake GPU box, say); all are stopped afterwards.

    `s3_endpoint` points a worker at another S3 address (a proxy that can fail).
    """
    started: list[WorkerProcess] = []

    def start(
        name: str, queues: list[str] | None = None, concurrency: int = 1, s3_endpoint: str | None = None, **env: str
    ) -> WorkerProcess:
        with django_db_blocker.unblock():
            worker_environment = worker_env(**s3_env(s3_endpoint or s3_server, s3_bucket), **env)
        worker = WorkerProcess(
            worker_environment,
            tmp_path / f"{name}.log",
            f"{name}-{uuid.uuid4().hex[:6]}",
            concurrency=concurrency,
            queues=queues,
        )
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def without_session_worker(celery_worker):
    """Take the shared worker away for a test whose own workers must get every message."""
    celery_worker.stop()
    yield
    celery_worker.start()


def fail_with_worker_log(message: str, worker: WorkerProcess) -> None:
    pytest.fail(f"{message}\n--- worker log (tail) ---\n{worker.log_tail()}")
