"""Upload through the real view → RabbitMQ → a real `celery worker` → ffmpeg → S3 (moto_server).

The test process and the worker share the PostgreSQL test database (SQLite file
when no DATABASE_URL is set) and this run's own queues.
"""

import hashlib
import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files import File
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from media_tasks import presenters
from media_tasks.models import Job
from tests.conftest import fail_with_worker_log, wait_until
from tests.media import ffprobe, make_exif_rotated_jpeg, make_video, moov_before_mdat, streams

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# bench/run.py times this test on its own clip: E2E_CLIP_SECONDS=10 E2E_CLIP_NOISE=1.
CLIP_SECONDS = float(os.environ.get("E2E_CLIP_SECONDS", "3"))
CLIP_NOISE = os.environ.get("E2E_CLIP_NOISE") == "1"


@pytest.fixture
def live(celery_worker, s3_storage):
    return celery_worker, s3_storage


def post(client, path: Path, name: str | None = None) -> dict:
    with path.open("rb") as fh:
        upload = File(fh, name=name or path.name)
        response = client.post(reverse("asset_upload"), {"file": upload}, HTTP_ACCEPT="application/json")
    assert response.status_code == 202, response.content
    return response.json()


def wait_for_job(job_id: str, worker, timeout: float = 240) -> tuple[Job, list[int]]:
    """Poll the database (bounded) until the job ends; returns it and the progress values seen."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.select_related("asset").get(pk=job_id)
        if not seen or seen[-1] != job.progress:
            seen.append(job.progress)
        if job.is_final:
            return job, seen
        time.sleep(0.2)
    fail_with_worker_log(f"job {job_id} did not end within {timeout}s (status {job.status})", worker)


def rung_download(client, rendition, dest: Path) -> Path:
    """A rung's MP4 as its owner downloads it from the page: put together by the web from the
    stored streams (picture and sound)."""
    area, _, rest = presenters.links.rendition_file_key(rendition).split("/", 2)
    response = client.get(reverse("asset_file", args=[rendition.asset_id, f"{area}/{rest}"]))
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4", response.status_code
    dest.write_bytes(b"".join(response.streaming_content))
    return dest


def fetch(s3, key: str, dest: Path) -> Path:
    s3.download_file(s3.bucket, key, str(dest))
    return dest


def test_video_upload_becomes_a_playable_ladder_on_s3(live, alice_client, tmp_path):
    worker, s3 = live
    clip = make_video(tmp_path / "holiday.mov", width=1920, height=1080, duration=CLIP_SECONDS, noise=CLIP_NOISE)
    accepted = post(alice_client, clip)
    started = time.monotonic()  # the clock: from the upload accepted (202)
    accepted_at = timezone.now()
    assert accepted["status_url"].endswith(f"/api/v1/assets/{accepted['asset_id']}")
    job, seen = wait_for_job(accepted["job_id"], worker)
    # To the worker's own mark of the job ready, not to when this test's polling noticed it.
    elapsed = (job.finished_at - accepted_at).total_seconds()
    print(f"\nE2E {CLIP_SECONDS:g}s 1080p clip: upload accepted → job succeeded in {elapsed:.2f}s")
    for event in job.events.all():  # where the time went, for bench/run.py's readers
        print(f"  {event.created_at:%H:%M:%S.%f} {event.message}")
    assert job.status == Job.Status.SUCCEEDED, job.error or worker.log_tail()
    assert (job.progress, job.attempts, job.error) == (100, 1, "")
    assert job.worker_hostname == worker.name
    assert any(0 < p < 100 for p in seen), f"progress never moved between 0 and 100: {seen}"

    asset = job.asset
    original = fetch(s3, asset.original_key, tmp_path / "original")
    assert (
        hashlib.sha256(original.read_bytes()).hexdigest()
        == asset.sha256
        == hashlib.sha256(clip.read_bytes()).hexdigest()
    )
    mp4s = {r.profile: r for r in asset.renditions.filter(kind="mp4")}
    assert sorted(mp4s) == ["1080p", "360p", "480p", "720p"]
    for profile, (width, height) in {
        "1080p": (1920, 1080),
        "720p": (1280, 720),
        "480p": (854, 480),
        "360p": (640, 360),
    }.items():
        path = rung_download(alice_client, mp4s[profile], tmp_path / f"{profile}.mp4")
        data = ffprobe(path)
        (video,) = streams(data, "video")
        (audio,) = streams(data, "audio")
        assert (video["width"], video["height"], video["codec_name"], audio["codec_name"]) == (
            width,
            height,
            "h264",
            "aac",
        )
        assert float(data["format"]["duration"]) == pytest.approx(CLIP_SECONDS, abs=0.1)
        assert moov_before_mdat(path)
        assert path.stat().st_size > mp4s[profile].size_bytes  # the picture's stream, and the sound
    master = fetch(s3, asset.renditions.get(kind="hls").storage_key, tmp_path / "master.m3u8").read_text()
    assert master.count("#EXT-X-STREAM-INF") == 4 and master.count("#EXT-X-MEDIA:TYPE=AUDIO") == 1
    poster = fetch(s3, asset.renditions.get(kind="poster").storage_key, tmp_path / "poster.jpg")
    with Image.open(poster) as im:
        assert im.size == (1280, 720)
    vtt = fetch(s3, f"thumbs/{asset.id}/sprite.vtt", tmp_path / "sprite.vtt").read_text()
    assert vtt.startswith("WEBVTT") and "sprite.jpg#xywh=0,0,160,90" in vtt

    page = alice_client.get(reverse("asset_detail", args=[asset.id]))
    assert b"<video" in page.content and b"1920\xc3\x971080" in page.content

    # SSIM follows the ready job (the quality task, last in the chain), one figure per rung.
    measured = wait_until(
        lambda: (
            [r for r in asset.renditions.filter(kind="mp4") if r.ssim]
            if not asset.renditions.filter(kind="mp4", ssim__isnull=True).exists()
            else None
        ),
        120,
        "SSIM on every rendition",
    )
    print(f"SSIM stored {time.monotonic() - started:.2f}s after the upload was accepted")
    assert all(0.8 < r.ssim <= 1.0 for r in measured), [(r.profile, r.ssim) for r in measured]
    # VMAF after SSIM, by the same task: it drops its copy of the source once both are stored.
    scored = wait_until(
        lambda: (
            list(asset.renditions.filter(kind="mp4"))
            if not asset.renditions.filter(vmaf__isnull=True, kind="mp4").exists()
            else None
        ),
        180,
        "VMAF on every rendition",
    )
    print(f"VMAF stored {time.monotonic() - started:.2f}s after the upload was accepted")
    assert all(0 < r.vmaf <= 100 for r in scored), [(r.profile, r.vmaf) for r in scored]
    sources = Path(settings.MEDIA_WORK_DIR) / "sources"
    wait_until(lambda: not (sources / str(asset.id)).exists(), 10, "the worker to drop its copy of the source")


def test_image_upload_becomes_variants_on_s3(live, alice_client, tmp_path):
    worker, s3 = live
    photo = make_exif_rotated_jpeg(tmp_path / "photo.jpg", 1600, 1200, orientation=6)
    accepted = post(alice_client, photo, name="photo.png")  # the extension lies; the content decides
    job, _ = wait_for_job(accepted["job_id"], worker)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.asset.kind == "image"
    webp = job.asset.renditions.get(profile="640.webp")
    with Image.open(fetch(s3, webp.storage_key, tmp_path / "640.webp")) as im:
        assert (im.format, im.size) == ("WEBP", (640, 853))


def test_garbage_fails_with_a_reason_and_the_next_job_still_succeeds(live, alice_client, tmp_path):
    worker, _ = live
    garbage = tmp_path / "movie.mp4"
    garbage.write_bytes(os.urandom(256 * 1024))
    good = make_video(tmp_path / "good.mp4", width=640, height=360, duration=2.0)
    bad_job_id = post(alice_client, garbage)["job_id"]
    good_job_id = post(alice_client, good)["job_id"]
    bad, _ = wait_for_job(bad_job_id, worker)
    good_job, _ = wait_for_job(good_job_id, worker)
    assert bad.status == Job.Status.FAILED
    assert bad.error == "The file is not a video, sound or image we can read (its content is not a supported format)."
    assert not bad.asset.renditions.exists()
    assert good_job.status == Job.Status.SUCCEEDED, good_job.error
    assert worker.proc.poll() is None, "the worker keeps running after a bad file"
    status = alice_client.get(reverse("asset_status", args=[bad.asset_id]), HTTP_ACCEPT="application/json").json()
    assert status["status"] == "failed" and status["error"] == bad.error
