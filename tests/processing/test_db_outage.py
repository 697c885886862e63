"""The bound on a database outage (processing.db_outage), on a real PostgreSQL that the test
stops and starts (MEDIA_TEST_PGDATA, set by `make test`). The waits themselves, with real
workers, are in tests/e2e/test_db_outage.py."""

import threading

import pytest
from django.db import connection

from media_tasks import tasks
from media_tasks.models import Job
from tests.e2e.test_db_outage import PGDATA, cluster
from tests.media import make_video
from tests.processing.test_jobs import upload

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not PGDATA, reason="needs a PostgreSQL cluster of the test run's own (make test)"),
]


def test_an_outage_past_its_bound_fails_the_stage_once_the_database_is_back(
    fs_storage, user, settings, monkeypatch, tmp_path
):
    settings.MEDIA_DATABASE_OUTAGE_MAX_S = 1
    settings.MEDIA_DATABASE_RETRY_BACKOFF_MAX_S = 1
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)  # this test runs the stage itself
    job = upload(make_video(tmp_path / "clip.mp4", width=320, height=240, duration=1.0), user)
    cluster("stop")
    back = threading.Timer(3, cluster, args=("start",))
    back.start()
    try:
        tasks.probe_task(str(job.id))  # as a worker runs it: JobTask.__call__ waits, then gives up
    finally:
        back.join()
        connection.close()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error.startswith("The database was out of reach for over 1 minute while checking the file"), job.error
