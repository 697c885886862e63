"""The database going away, on a real PostgreSQL that each test stops and starts
(scripts/pg-cluster.sh; `make test` exports MEDIA_TEST_PGDATA): a stage waits for it instead
of spending its retries, an encode outlives a restart, the worker's main process reconnects,
and the web answers 503 with one log line per outage.

After the cluster is back this process's own connection is dead: close it before a query.
"""

import logging
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.urls import reverse
from django.utils import timezone

from media_tasks.models import Job, Worker
from tests.conftest import wait_until
from tests.e2e.test_faults import assert_valid_video_job
from tests.e2e.test_upload_to_renditions import post, wait_for_job
from tests.media import make_video

PGDATA = os.environ.get("MEDIA_TEST_PGDATA")
CLUSTER = Path(__file__).resolve().parents[2] / "scripts" / "pg-cluster.sh"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not PGDATA, reason="needs a PostgreSQL cluster of the test run's own (make test)"),
]


def cluster(command: str) -> None:
    subprocess.run([str(CLUSTER), command, PGDATA], check=True, capture_output=True, timeout=90)


def reconnect() -> None:
    connection.close()


def sample(job_id: str) -> Job | None:
    """The job as the database has it now; None while the database is out of reach."""
    try:
        return Job.objects.get(pk=job_id)
    except (OperationalError, InterfaceError):
        reconnect()
        return None


def rungs_encoded(log: str, job_id: str) -> int:
    """How many times the worker finished encoding the job's ladder (runtime's log line)."""
    return len(re.findall(rf"job {job_id}: \d+ rungs encoded", log))


def assert_one_encode(job: Job, progress: list[int], log: str) -> None:
    assert progress == sorted(progress), f"progress went backwards: {progress}"
    assert not job.events.filter(message__contains="started again").exists(), list(job.events.values("message"))
    assert rungs_encoded(log, str(job.id)) == 1, log[-4000:]
    assert not job.events.filter(message__contains="went silent").exists()


def test_an_outage_longer_than_the_retry_budget_is_waited_out(
    without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    """The retry budget is a few seconds here (2 tries, 1 s apart at most), the outage 20 s: the
    job must succeed with the encode it made, and the worker's main process must come back."""
    worker = start_worker(
        "db-outage",
        concurrency=1,
        MEDIA_TASK_MAX_RETRIES="2",
        MEDIA_TASK_RETRY_BACKOFF_MAX_S="1",
        MEDIA_DATABASE_RETRY_BACKOFF_MAX_S="2",
    )
    job_id = post(alice_client, make_video(tmp_path / "o.mp4", width=1280, height=720, duration=6.0))["job_id"]
    wait_until(lambda: (j := Job.objects.get(pk=job_id)).status == "transcoding" and j.progress > 6, 60, "an encode")
    progress = [Job.objects.get(pk=job_id).progress]
    cluster("stop")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        cluster("start")
        reconnect()
    back = timezone.now()
    job, seen = wait_for_job(job_id, worker, timeout=120)
    progress += seen
    log = worker.log_tail(1_000_000)
    print(f"\nDatabase outage of 20 s: job {job.status}, progress {progress}, error {job.error!r}")
    assert_valid_video_job(job, s3_storage, tmp_path)
    assert_one_encode(job, progress, log)
    assert job.events.filter(message__contains="database").exists(), list(job.events.values("message"))
    # The main process reconnects: its registry row is touched again, and cleared at shutdown.
    row = Worker.objects.filter(hostname=worker.name)
    wait_until(lambda: row.filter(last_seen_at__gt=back).exists(), 45, "the worker's heartbeat after the outage")
    worker.stop()
    assert row.get().last_seen_at is None


def test_a_brief_restart_does_not_throw_the_encode_away(
    without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    worker = start_worker("db-restart", concurrency=1)
    job_id = post(alice_client, make_video(tmp_path / "r.mp4", width=1280, height=720, duration=8.0))["job_id"]
    wait_until(lambda: (j := Job.objects.get(pk=job_id)).status == "transcoding" and j.progress > 6, 60, "an encode")
    progress = [Job.objects.get(pk=job_id).progress]
    cluster("stop")
    cluster("start")
    reconnect()
    assert rungs_encoded(worker.log_tail(1_000_000), job_id) == 0, "the encode ended before the restart"
    job, seen = wait_for_job(job_id, worker, timeout=120)
    progress += seen
    print(f"\nDatabase restart mid-encode: job {job.status}, progress {progress}")
    assert_valid_video_job(job, s3_storage, tmp_path)
    assert_one_encode(job, progress, worker.log_tail(1_000_000))


def test_the_web_answers_503_and_logs_once_per_outage(client, user, token, caplog):
    client.force_login(user)
    client.raise_request_exception = False  # what a browser sees, not the traceback
    asset = uuid.uuid4()
    pages = [reverse("asset_list"), reverse("asset_detail", args=[asset])]
    api = ["/api/v1/assets", f"/api/v1/assets/{asset}"]
    caplog.set_level(logging.INFO)
    cluster("stop")
    try:
        caplog.clear()
        for _ in range(3):
            for path in pages:
                response = client.get(path)
                assert response.status_code == 503, (path, response.status_code)
                assert response["Retry-After"]
                assert "database" in response.content.decode().lower()
            for path in api:
                response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
                assert response.status_code == 503, (path, response.status_code)
                assert response["Retry-After"]
                assert response.json()["error"]["code"] == "database_unavailable"
        during = [r for r in caplog.records if r.levelno >= logging.WARNING]
    finally:
        cluster("start")
        reconnect()
    caplog.clear()
    assert client.get(pages[0]).status_code == 200
    assert client.get(api[0], HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    after = [r.getMessage() for r in caplog.records if "database" in r.getMessage().lower()]
    print(f"\nDatabase down: 12 requests, {len(during)} log lines at WARNING or above; back: {after}")
    assert len(during) == 1, [r.getMessage() for r in during]
    assert during[0].levelno == logging.WARNING and not during[0].exc_info
    assert len(after) == 1 and "back" in after[0], after
