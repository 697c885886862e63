"""What a job that meets a transient fault says, and what the sweep removes for ended jobs."""

import pytest

from media_tasks import services
from media_tasks.models import Job
from media_tasks.processing import faults, rescue, transitions
from media_tasks.processing.runtime import frames_cache_path, source_cache_path
from tests.services.test_hardening import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(user):
    return upload(user).job


def test_lost_workers_blame_the_file_only_on_evidence(fs_storage, job):
    faults.job_fail_workers_lost(job_id=job.id, deliveries="more than 5")
    job.refresh_from_db()
    assert job.error.startswith("The worker processing this file stopped more than 5 times before finishing")
    assert "Nothing points at the file" in job.error and "probably makes" not in job.error


def test_lost_workers_with_a_killed_encoder_mention_memory(fs_storage, job):
    faults.job_note_encoder_killed(job_id=job.id, stage="transcoding", signal="SIGKILL")
    faults.job_fail_workers_lost(job_id=job.id, deliveries="more than 5")
    job.refresh_from_db()
    assert "killed by a signal 1 times" in job.error and "memory" in job.error


def test_waiting_for_storage_is_said_once_and_bounded(fs_storage, job, settings):
    settings.MEDIA_STORAGE_OUTAGE_MAX_S = 3600
    assert faults.job_wait_for_storage(job_id=job.id, stage="transcoding")
    assert faults.job_wait_for_storage(job_id=job.id, stage="transcoding")
    job.refresh_from_db()
    assert job.waiting_for == "storage" and job.waiting_since is not None
    assert job.events.filter(message__startswith="Waiting for storage").count() == 1
    settings.MEDIA_STORAGE_OUTAGE_MAX_S = 0
    assert not faults.job_wait_for_storage(job_id=job.id, stage="transcoding")


def test_sweep_removes_copies_of_ended_and_deleted_assets_at_once(fs_storage, user, settings, tmp_path):
    settings.MEDIA_WORK_DIR = tmp_path
    running, failed, deleted = (upload(user, content=bytes([i]) * 64).job for i in range(3))
    transitions.job_mark_failed(job_id=failed.id, reason="bad input")
    copies = {}
    for job in (running, failed, deleted):
        source, frames, workdir = (
            source_cache_path(job.asset_id),
            frames_cache_path(job.asset_id),
            tmp_path / f"job-{job.id}-transcoding",
        )
        for path in (frames, workdir):
            path.mkdir(parents=True)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(b"x")
        copies[job.id] = (source, frames, workdir)
    services.asset_delete(asset_id=deleted.asset_id)
    assert rescue.workdirs_remove_stale(max_age_s=6 * 3600) == 6
    assert all(path.exists() for path in copies[running.id])
    assert not any(path.exists() for job in (failed, deleted) for path in copies[job.id])
    assert Job.objects.filter(pk=running.id).exists()
