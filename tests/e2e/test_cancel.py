"""Cancelling a running transcode from the admin stops its ffmpeg, not only the job's status."""

import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from media_tasks import services, storage
from media_tasks.models import Job
from tests.conftest import wait_until
from tests.e2e.test_upload_to_renditions import post
from tests.media import make_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ffmpeg_processes_for(job_id: str) -> list[int]:
    """PIDs of ffmpeg processes working in this job's temp directory (its path names the job),
    named on the command line or, for the encodes that run inside it, as their working directory."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            cwd = str((proc / "cwd").readlink()).encode()
        except OSError:
            continue
        if b"ffmpeg" in cmdline.split(b" ", 1)[0] and job_id.encode() in cmdline + cwd:
            pids.append(int(proc.name))
    return pids


def test_admin_cancel_stops_ffmpeg(celery_worker, s3_storage, alice_client, admin_client, tmp_path):
    clip = make_video(tmp_path / "long.mp4", width=1920, height=1080, duration=8.0, tone=660)
    job_id = post(alice_client, clip)["job_id"]
    wait_until(
        lambda: ffmpeg_processes_for(job_id) and Job.objects.get(pk=job_id).progress > 6,
        120,
        "the transcode's ffmpeg to be running",
    )
    admin_client.post(reverse("admin:media_tasks_job_changelist"), {"action": "cancel", "_selected_action": [job_id]})
    cancelled_at = time.monotonic()
    wait_until(lambda: not ffmpeg_processes_for(job_id), 10, "ffmpeg to stop after the cancel")
    print(f"\nffmpeg stopped {time.monotonic() - cancelled_at:.1f}s after the cancel")
    time.sleep(2)  # the chain's later stages arrive and must do nothing
    job = Job.objects.get(pk=job_id)
    assert job.status == Job.Status.CANCELLED
    assert not job.asset.renditions.exists()
    assert celery_worker.alive()


def frames_written(job_id: str) -> int:
    """Sprite tiles the job's whole-file encode has written (one per second of source decoded),
    found beside the renditions directory its ffmpeg runs in; 0 when none is running."""
    for pid in ffmpeg_processes_for(job_id):
        try:
            frames = (Path("/proc") / str(pid) / "cwd").readlink().parent / "frames"
            return len(list(frames.glob("tile-*.bmp")))
        except OSError:
            continue
    return 0


def test_an_api_cancel_early_in_a_whole_file_encode_stops_ffmpeg_at_once(
    celery_worker, s3_storage, user, client, tmp_path
):
    """Cancelled through the API while the bar still shows the transcode's first percent: ffmpeg
    stops before it has decoded much more of the source (counted in sprite tiles, one per second)."""
    seconds = 30
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {services.api_token_create(owner=user, name='stop').plaintext}"
    clip = make_video(tmp_path / "long.mp4", width=1280, height=720, duration=seconds, tone=587)
    created = client.post("/api/v1/assets", {"file": SimpleUploadedFile("long.mp4", clip.read_bytes())}).json()
    job_id = created["job_id"]
    wait_until(lambda: frames_written(job_id) >= 1, 120, "the whole-file encode to be under way")
    progress = Job.objects.get(pk=job_id).progress
    at_cancel = frames_written(job_id)
    cancelled = client.post(f"/api/v1/assets/{created['asset_id']}/cancel")
    cancelled_at = time.monotonic()
    assert cancelled.status_code == 200, cancelled.content
    reached = [at_cancel]

    def ffmpeg_gone() -> bool:
        reached.append(frames_written(job_id))
        return not ffmpeg_processes_for(job_id)

    wait_until(ffmpeg_gone, 120, "ffmpeg to stop after the cancel", interval=0.05)
    reached = max(reached)
    stopped = time.monotonic() - cancelled_at
    further = (reached - at_cancel) / seconds
    print(
        f"\ncancel at {progress}% (tile {at_cancel} of {seconds}): ffmpeg gone {stopped:.2f} s later, "
        f"at tile {reached} ({further:.2f} of the source further)"
    )
    assert progress <= 10, f"the cancel came at {progress}%"
    # ffmpeg hears of the cancel at its next progress tick (once a second), decoding at 3-4x real
    # time meanwhile: 0.00-0.03 alone, 0.10 once under the full suite's load (1.05 s to the tick).
    assert further < 0.2, f"ffmpeg decoded {further:.2f} of the source after the cancel"
    job = Job.objects.get(pk=job_id)
    assert job.status == Job.Status.CANCELLED
    assert not job.asset.renditions.exists()


def test_a_cancelled_reencode_leaves_the_earlier_ladder_as_it_was(celery_worker, s3_storage, alice_client, tmp_path):
    """A re-encode of a ready video is cancelled while it encodes: the version made before it
    keeps every quality, its master and playlists exactly as they were."""
    clip = make_video(tmp_path / "long.mp4", width=1920, height=1080, duration=8.0, tone=700)
    job_id = post(alice_client, clip)["job_id"]
    wait_until(lambda: Job.objects.get(pk=job_id).status == Job.Status.SUCCEEDED, 240, "the first encode")
    asset_id = Job.objects.get(pk=job_id).asset_id
    rungs = ("1080p", "720p", "480p", "360p")
    names = ["master.m3u8", "manifest.mpd", "audio/128k-aac/index.m3u8", *(f"video/{r}-h264/index.m3u8" for r in rungs)]
    before = {name: storage.read_bytes(storage.asset_key(storage.HLS, asset_id, name)) for name in names}
    again = str(services.asset_reprocess(asset_id=asset_id).id)
    wait_until(
        lambda: ffmpeg_processes_for(again) and Job.objects.get(pk=again).progress > 20,
        240,  # the ladder's analysis comes first: its progress is the encode's
        "the re-encode's ffmpeg well into its work",
    )
    assert services.job_cancel(job_id=again, reason="Cancelled by its owner.")
    wait_until(lambda: not ffmpeg_processes_for(again), 10, "ffmpeg to stop after the cancel")
    time.sleep(2)  # whatever was still being published lands now
    after = {name: storage.read_bytes(storage.asset_key(storage.HLS, asset_id, name)) for name in names}
    assert after == before, "the cancelled re-encode rewrote the version that plays"


def test_an_item_deleted_while_it_encodes_leaves_no_file_behind(celery_worker, s3_storage, alice_client, tmp_path):
    """Deleted while its lowest quality is being published as it encodes: once the worker has
    stopped, nothing of it is left in the bucket."""
    clip = make_video(tmp_path / "long.mp4", width=1920, height=1080, duration=8.0, tone=720)
    job_id = post(alice_client, clip)["job_id"]
    asset_id = str(Job.objects.get(pk=job_id).asset_id)
    wait_until(
        lambda: ffmpeg_processes_for(job_id) and Job.objects.get(pk=job_id).playable_at is not None,
        120,
        "the encode publishing its first segments",
    )
    services.asset_delete(asset_id=asset_id)
    wait_until(lambda: not ffmpeg_processes_for(job_id), 10, "ffmpeg to stop after the delete")
    time.sleep(3)  # whatever was still being published lands now
    listed = s3_storage.list_objects_v2(Bucket=s3_storage.bucket).get("Contents", [])
    assert not [o["Key"] for o in listed if asset_id in o["Key"]]
    assert celery_worker.alive()


@pytest.mark.parametrize("how", ["whole", "chunked"])
def test_an_item_deleted_mid_encode_ends_quietly_in_the_worker_log(
    how, without_session_worker, start_worker, s3_storage, alice_client, tmp_path
):
    """Deleted mid-transcode, a whole-file one (its first segments published) or a chunked one
    (chunks still queued): the worker stops with one informational line, no traceback, no error,
    and the parts and stages after it end without a word."""
    chunked = {"MEDIA_CHUNK_THRESHOLD_S": "6", "MEDIA_CHUNK_SECONDS": "2"} if how == "chunked" else {}
    worker = start_worker("quiet", concurrency=1, **chunked)
    clip = make_video(tmp_path / "gone.mp4", width=1920, height=1080, duration=16.0 if chunked else 8.0, tone=740)
    job_id = post(alice_client, clip)["job_id"]
    asset_id = str(Job.objects.get(pk=job_id).asset_id)
    wait_until(
        lambda: ffmpeg_processes_for(job_id) and Job.objects.get(pk=job_id).playable_at is not None,
        120,
        "the encode publishing its first segments",
    )
    # The worker logs "playable" just after it writes playable_at: count only what follows it.
    wait_until(lambda: f"job {job_id}: playable" in worker.log_tail(10_000_000), 10, "the playable line")
    offset = len(worker.log_tail(10_000_000))
    assert alice_client.delete(f"/api/v1/assets/{asset_id}").status_code == 204
    wait_until(lambda: not ffmpeg_processes_for(job_id), 10, "ffmpeg to stop after the delete")
    deadline = time.monotonic() + 30
    while f"job {job_id}: its item was deleted" not in worker.log_tail(10_000_000) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(5)  # whatever else the worker would still log about it
    log = worker.log_tail(10_000_000)[offset:]
    print(f"\nworker log after the delete ({log.count(chr(10))} lines, {log.count('Traceback')} tracebacks)")
    assert "Traceback" not in log, log[-6000:]
    assert not [line for line in log.splitlines() if "ERROR" in line or "WARNING" in line]
    assert len([line for line in log.splitlines() if job_id in line and "INFO" in line]) == 1, log
    assert worker.alive()
