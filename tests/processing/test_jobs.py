import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from media_tasks import services, storage
from media_tasks.models import Asset, Job, Rendition
from media_tasks.pipeline.exceptions import ProcessingCancelled
from media_tasks.processing import finalize, images, probe, quality, thumbnails, transcode, transitions
from media_tasks.processing.runtime import frames_cache_path, progress_reporter
from tests.media import make_video

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def small_video(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("svc") / "clip.mp4", width=640, height=360, duration=2.0)


@pytest.fixture
def enqueued(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: calls.append(job_id))
    return calls


def upload(path: Path, user, name: str | None = None) -> Job:
    with path.open("rb") as fh:
        return services.asset_create(
            owner=user, fileobj=fh, filename=name or path.name, size_bytes=path.stat().st_size
        ).job


def workdirs() -> list[Path]:
    root = Path(settings.MEDIA_WORK_DIR)
    return list(root.glob("job-*")) if root.exists() else []


def test_asset_create_stores_the_file_and_enqueues_only_after_commit(
    fs_storage, user, enqueued, small_video, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        job = upload(small_video, user, name="../../etc/passwd\n.mp4")
        assert enqueued == []  # nothing is queued while the transaction is open
    assert len(callbacks) == 1
    callbacks[0]()
    assert enqueued == [job.id]
    asset = job.asset
    assert job.status == Job.Status.QUEUED and job.correlation_id
    assert asset.original_key == f"originals/{asset.id}/source"
    assert asset.original_filename == "passwd.mp4"  # display only, no path, no newline
    assert asset.size_bytes == small_video.stat().st_size
    assert len(asset.sha256) == 64
    assert (fs_storage / asset.original_key).read_bytes() == small_video.read_bytes()


@pytest.mark.parametrize("backend", ["fs_storage", "s3_storage"])
def test_video_job_goes_through_every_stage(request, backend, user, enqueued, small_video):
    request.getfixturevalue(backend)
    job = upload(small_video, user)
    assert probe.job_probe(job_id=job.id, worker="w1") == "video"
    assert transcode.job_transcode(job_id=job.id, worker="w1")
    job.refresh_from_db()
    assert (job.status, job.progress) == (Job.Status.TRANSCODING, 85)
    frames = frames_cache_path(job.asset_id)
    candidates = [f"poster-{i}-{n}.bmp" for i in range(4) for n in (1, 2)]  # each primer, then its candidate
    assert sorted(p.name for p in frames.iterdir())[:9] == [*candidates, "tile-00001.bmp"]
    assert thumbnails.job_make_thumbnails(job_id=job.id, worker="w1")
    assert not frames.exists(), "the thumbnails stage used the encode's frames and dropped them"
    assert finalize.job_finalize(job_id=job.id, worker="w1")
    job.refresh_from_db()
    assert (job.status, job.progress, job.attempts, job.worker_hostname) == (Job.Status.SUCCEEDED, 100, 1, "w1")
    assert job.started_at and job.finished_at
    asset = Asset.objects.get(pk=job.asset_id)
    assert asset.kind == "video" and asset.probe["width"] == 640 and asset.probe["has_audio"] is True
    kinds = sorted(asset.renditions.values_list("kind", "profile", "width", "height"))
    assert kinds == [
        ("audio", "128k", 0, 0),
        ("dash", "manifest", 640, 360),
        ("frame", "frame-10", 640, 360),
        ("frame", "frame-30", 640, 360),
        ("frame", "frame-50", 640, 360),
        ("hls", "master", 640, 360),
        ("mp4", "360p", 640, 360),
        ("poster", "poster", 640, 360),
        ("sprite", "sprite", 160, 90),
    ]
    (mp4,) = asset.renditions.filter(kind="mp4")
    assert mp4.ssim is None and mp4.vmaf is None, "the job is ready before its quality is measured"
    assert quality.job_measure_quality(job_id=job.id, worker="w1")
    mp4.refresh_from_db()
    assert 0.9 < mp4.ssim <= 1.0, "SSIM against the scaled source is stored per rendition"
    assert 80 < mp4.vmaf <= 100, "and VMAF against the source"
    assert not quality.job_measure_quality(job_id=job.id, worker="w1"), "measured once"
    for rendition in asset.renditions.all():
        assert storage.exists(rendition.storage_key), rendition.storage_key
    names = ("hls/video/360p-h264/init.mp4", "hls/video/360p-h264/seg_00000.m4s", "hls/audio/128k-aac/init.mp4")
    for name in (*names, "hls/video/360p-h264/download.json", "hls/manifest.mpd", "thumbs/sprite.vtt"):
        area, rest = name.split("/", 1)
        assert storage.exists(storage.asset_key(area, asset.id, rest))
    assert workdirs() == []


def test_image_job(fs_storage, user, enqueued, tmp_path):
    from tests.media import make_exif_rotated_jpeg

    job = upload(make_exif_rotated_jpeg(tmp_path / "photo.mp4"), user)  # the name lies; content decides
    assert probe.job_probe(job_id=job.id) == "image"
    assert images.job_make_image_variants(job_id=job.id)
    assert finalize.job_finalize(job_id=job.id)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    profiles = sorted(job.asset.renditions.values_list("profile", "width", "height", "codec"))
    assert profiles == [
        ("1200.jpg", 1200, 1600, "jpeg"),  # its own width: narrower than the largest, 2048
        ("1200.webp", 1200, 1600, "webp"),
        ("320.jpg", 320, 427, "jpeg"),
        ("320.webp", 320, 427, "webp"),
        ("640.jpg", 640, 853, "jpeg"),
        ("640.webp", 640, 853, "webp"),
    ]


def test_garbage_fails_with_a_readable_reason_and_later_stages_do_nothing(fs_storage, user, enqueued, tmp_path):
    garbage = tmp_path / "holiday.mp4"
    garbage.write_bytes(b"\x00\x13garbage" * 5000)
    job = upload(garbage, user)
    assert probe.job_probe(job_id=job.id) is None
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "not a video, sound or image we can read" in job.error
    assert not transcode.job_transcode(job_id=job.id)
    assert not finalize.job_finalize(job_id=job.id)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.finished_at
    assert workdirs() == []


def test_redelivered_stage_redoes_its_work_without_duplicates(fs_storage, user, enqueued, small_video):
    job = upload(small_video, user)
    probe.job_probe(job_id=job.id)
    assert transcode.job_transcode(job_id=job.id)
    # The worker died before acking: RabbitMQ delivers the same task again.
    assert transcode.job_transcode(job_id=job.id)
    assert Rendition.objects.filter(asset=job.asset, kind="mp4").count() == 1
    thumbnails.job_make_thumbnails(job_id=job.id)
    # Once the job has moved on, an old transcode message cannot drag it back.
    assert not transcode.job_transcode(job_id=job.id)
    assert finalize.job_finalize(job_id=job.id)
    assert not finalize.job_finalize(job_id=job.id), "finalisation happens once"
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert not transitions.job_mark_failed(job_id=job.id, reason="late failure"), "a final state is final"


def test_progress_reporter_stops_work_once_the_job_has_ended(fs_storage, user, enqueued, small_video):
    job = upload(small_video, user)
    Job.objects.filter(pk=job.id).update(status=Job.Status.TRANSCODING)
    report = progress_reporter(job.id, Job.Status.TRANSCODING)
    report(0.5)
    job.refresh_from_db()
    assert job.progress == 45  # halfway through the 5..85 transcoding span
    Job.objects.filter(pk=job.id).update(status=Job.Status.CANCELLED)
    with pytest.raises(ProcessingCancelled):
        report(0.6)


def test_internal_error_message_does_not_blame_the_file(fs_storage, user, enqueued, small_video):
    job = upload(small_video, user)
    assert transitions.job_mark_internal_error(job_id=job.id, stage="transcoding")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "on our side while transcoding" in job.error


def test_thumbnails_on_a_machine_without_the_encodes_frames_decode_the_renditions(
    fs_storage, user, enqueued, small_video
):
    job = upload(small_video, user)
    probe.job_probe(job_id=job.id)
    assert transcode.job_transcode(job_id=job.id)
    shutil.rmtree(frames_cache_path(job.asset_id))  # as if the transcode had run elsewhere
    assert thumbnails.job_make_thumbnails(job_id=job.id)
    thumbs = sorted(job.asset.renditions.filter(kind__in=["poster", "sprite"]).values_list("kind", "width", "height"))
    assert thumbs == [("poster", 640, 360), ("sprite", 160, 90)]
    assert storage.exists(storage.asset_key(storage.THUMBS, job.asset_id, "sprite.vtt"))


def test_a_ladder_analysis_that_fails_encodes_the_fixed_ladder_and_says_why(
    fs_storage, user, enqueued, monkeypatch, tmp_path
):
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", "/bin/false")  # the VMAF ffmpeg fails as a broken build would
    job = upload(make_video(tmp_path / "two-rungs.mp4", width=854, height=480, duration=1.0), user)
    assert probe.job_probe(job_id=job.id, worker="w1") == "video"
    assert transcode.job_transcode(job_id=job.id, worker="w1")
    job.refresh_from_db()
    assert job.status == Job.Status.TRANSCODING and job.ladder["policy"] == "fixed", job.ladder
    assert job.ladder["reason"].startswith("the analysis failed (The VMAF measurement could not be processed")
    assert [r["crf"] for r in job.ladder["rungs"]] == [23, 23]
    assert sorted(job.asset.renditions.filter(kind=Rendition.Kind.MP4).values_list("profile", flat=True)) == [
        "360p",
        "480p",
    ]
    assert job.events.filter(message__startswith="Ladder: fixed, the analysis failed").count() == 1


def test_a_rung_that_shows_nothing_better_than_the_one_below_is_not_made_and_the_ladder_says_why(
    fs_storage, user, enqueued, tmp_path
):
    # A still, flat picture: the 360p rung scaled up shows it as well as the 480p rung does.
    clip = tmp_path / "flat.mp4"
    graph = "color=c=0x4080c0:s=854x480:r=30:d=2"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", graph, "-pix_fmt", "yuv420p", str(clip)], check=True)
    job = upload(clip, user)
    assert probe.job_probe(job_id=job.id, worker="w1") == "video"
    assert transcode.job_transcode(job_id=job.id, worker="w1")
    job.refresh_from_db()
    rows = {row["name"]: row for row in job.ladder["rungs"]}
    assert rows["480p"]["dropped"].startswith("within 1 VMAF point of 360p"), rows
    assert not rows["360p"]["dropped"]
    assert list(job.asset.renditions.filter(kind=Rendition.Kind.MP4).values_list("profile", flat=True)) == ["360p"]
    master = storage.read_bytes(storage.asset_key(storage.HLS, job.asset_id, "master.m3u8")).decode()
    assert "480p" not in master and "video/360p-h264/index.m3u8" in master, master


def test_a_reencode_applies_the_ladder_policy_of_now(fs_storage, user, enqueued, settings, tmp_path):
    settings.MEDIA_PER_TITLE = False
    first = upload(make_video(tmp_path / "clip.mp4", width=854, height=480, duration=1.0, tone=330), user)
    assert probe.job_probe(job_id=first.id) == "video"
    assert transcode.job_transcode(job_id=first.id)
    Job.objects.filter(pk=first.id).update(status=Job.Status.SUCCEEDED)
    settings.MEDIA_PER_TITLE = True
    again = services.asset_reprocess(asset_id=first.asset_id)
    assert probe.job_probe(job_id=again.id) == "video"
    assert transcode.job_transcode(job_id=again.id)
    first.refresh_from_db()
    again.refresh_from_db()
    assert (first.ladder["policy"], again.ladder["policy"]) == ("fixed", "per-title")
