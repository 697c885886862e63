"""Cancel, retry, re-encode and delete: what admin actions (and later the API) call."""

from pathlib import Path

import pytest

from media_tasks import services, storage
from media_tasks.models import Asset, Job, Rendition
from media_tasks.processing import finalize, probe, quality, thumbnails, transcode
from tests.media import make_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: calls.append(job_id))
    return calls


@pytest.fixture(scope="module")
def clip_720p(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("ops") / "clip.mp4", width=1280, height=720, duration=1.0)


def run_video_job(job_id) -> None:
    assert probe.job_probe(job_id=job_id) == "video"
    assert transcode.job_transcode(job_id=job_id)
    assert thumbnails.job_make_thumbnails(job_id=job_id)
    assert finalize.job_finalize(job_id=job_id)


def upload(path: Path, user) -> Job:
    with path.open("rb") as fh:
        return services.asset_create(owner=user, fileobj=fh, filename=path.name, size_bytes=path.stat().st_size).job


def test_cancel_ends_a_running_job_once(fs_storage, user, enqueued, clip_720p):
    job = upload(clip_720p, user)
    assert services.job_cancel(job_id=job.id, reason="Cancelled by admin.")
    job.refresh_from_db()
    assert (job.status, job.error) == (Job.Status.CANCELLED, "Cancelled by admin.") and job.finished_at
    assert not services.job_cancel(job_id=job.id), "an ended job stays as it ended"
    assert probe.job_probe(job_id=job.id) is None, "a cancelled job's stages do nothing"


@pytest.mark.parametrize("backend", ["fs_storage", "s3_storage"])
def test_reencode_with_a_shorter_ladder_drops_the_old_rungs(
    request, backend, user, enqueued, clip_720p, settings, django_capture_on_commit_callbacks
):
    request.getfixturevalue(backend)
    settings.MEDIA_LADDER = [720, 360]
    first = upload(clip_720p, user)
    run_video_job(first.id)
    old_720 = Rendition.objects.get(asset=first.asset, profile="720p").storage_key
    with pytest.raises(ValueError, match="still being processed"):
        Job.objects.filter(pk=first.id).update(status=Job.Status.TRANSCODING)
        services.asset_reprocess(asset_id=first.asset_id)
    Job.objects.filter(pk=first.id).update(status=Job.Status.SUCCEEDED)

    settings.MEDIA_LADDER = [360]
    with django_capture_on_commit_callbacks(execute=True):
        second = services.asset_reprocess(asset_id=first.asset_id)
    assert second.id != first.id and enqueued[-1] == second.id
    assert Asset.objects.get(pk=first.asset_id).latest_job == second
    run_video_job(second.id)
    assert list(Rendition.objects.filter(asset=first.asset, kind="mp4").values_list("profile", flat=True)) == ["360p"]
    assert not storage.exists(old_720)


@pytest.mark.parametrize("backend", ["fs_storage", "s3_storage"])
def test_delete_removes_every_stored_file_and_row(request, backend, user, enqueued, clip_720p):
    root = request.getfixturevalue(backend)
    job = upload(clip_720p, user)
    run_video_job(job.id)
    keys = [r.storage_key for r in Rendition.objects.filter(asset=job.asset)] + [job.asset.original_key]
    assert all(storage.exists(k) for k in keys)
    deleted = services.asset_delete(asset_id=job.asset_id)
    assert deleted >= len(keys) + 3  # plus HLS segments/playlists and the VTT
    assert not any(storage.exists(k) for k in keys)
    assert not Asset.objects.filter(pk=job.asset_id).exists() and not Job.objects.filter(pk=job.id).exists()
    if backend == "fs_storage":  # no empty folder named after it is left either
        assert not list(root.rglob(f"*{job.asset_id}*"))


def test_deleting_an_asset_cancels_its_running_job_first(fs_storage, user, enqueued, clip_720p, monkeypatch):
    job = upload(clip_720p, user)
    cancelled = []
    real_cancel = services.assets.job_cancel
    monkeypatch.setattr(services.assets, "job_cancel", lambda **kw: cancelled.append(kw) or real_cancel(**kw))
    services.asset_delete(asset_id=job.asset_id)
    assert cancelled and cancelled[0]["job_id"] == job.id


def test_the_quality_measurement_of_a_deleted_item_ends_quietly(fs_storage, user, enqueued, clip_720p):
    """The SSIM task queued after "Ready" finds its job gone with its deleted asset."""
    job = upload(clip_720p, user)
    run_video_job(job.id)
    services.asset_delete(asset_id=job.asset_id)
    assert quality.job_measure_quality(job_id=job.id, worker="t") is False
