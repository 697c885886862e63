"""The pages people use, in a real browser: upload (direct to S3, and in parts through us),
live status without reloading, playback, resume after a reload, cancel from admin."""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from urllib.parse import urljoin

import pytest
from django.urls import reverse

from media_tasks import storage
from media_tasks.models import Asset, Job
from tests.browser.conftest import screenshot
from tests.conftest import WorkerProcess, wait_until, worker_env
from tests.e2e.test_cancel import ffmpeg_processes_for
from tests.media import make_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1024 * 1024


@pytest.fixture
def s3_for_browsers(s3_storage):
    storage.bucket_cors_ensure(["*"])  # what `manage.py storage_setup` does for MEDIA_CORS_ORIGINS
    return s3_storage


def watch_uploads(page) -> None:
    """Record Uppy's progress events in the page, to check the bar moved."""
    page.evaluate(
        """() => {
          window.__progress = []; window.__parts = [];
          window.mediaUploader.on('upload-progress', (f, p) => window.__progress.push([p.bytesUploaded, p.bytesTotal]));
          window.mediaUploader.on('s3-multipart:part-uploaded', (f, part) => window.__parts.push(part.PartNumber));
        }"""
    )


def throttle_uploads(page, bytes_per_second: int) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_second},
    )


def test_upload_watch_and_play_a_video(celery_worker, s3_for_browsers, signed_in, user, tmp_path):
    clip = make_video(tmp_path / "beach.mp4", width=1920, height=1080, duration=3.0, tone=523)
    page = signed_in(user)
    s3_puts: list[str] = []
    page.on("request", lambda r: s3_puts.append(r.url) if r.method == "PUT" and "partNumber=" in r.url else None)
    page.goto(reverse("asset_upload"))
    watch_uploads(page)
    throttle_uploads(page, max(256 * 1024, clip.stat().st_size // 3))  # about 3 s, so progress shows
    page.set_input_files("#file-input", str(clip))
    page.wait_for_selector("#upload-list tr progress")
    screenshot_taken = False
    link = page.locator("#upload-list a.status-link")
    while not link.count():
        if not screenshot_taken and page.evaluate("window.__progress.length") >= 2:
            screenshot(page, "upload")
            screenshot_taken = True
        time.sleep(0.1)
    progress = page.evaluate("window.__progress")
    assert any(0 < done < total for done, total in progress), f"the bar never moved: {progress}"
    assert s3_puts and all(url.startswith(s3_for_browsers.meta.endpoint_url) for url in s3_puts), s3_puts

    navigations = []
    link.click()
    page.wait_for_url(re.compile(r"/assets/[0-9a-f-]+/$"))
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    percents = set()
    deadline = time.monotonic() + 180
    shot = False
    while page.get_attribute("#asset-live", "data-status") != "succeeded":
        assert time.monotonic() < deadline, page.inner_text("#asset-live")
        assert page.get_attribute("#asset-live", "data-status") != "failed", page.inner_text("#asset-live")
        value = page.get_attribute("#job-progress", "value") if page.locator("#job-progress").count() else None
        if value is not None:
            percents.add(int(value))
        if not shot and page.get_attribute("#asset-live", "data-status") == "transcoding":
            screenshot(page, "status")
            shot = True
        time.sleep(0.1)
    assert not navigations, f"the page reloaded: {navigations}"
    assert any(0 < p < 100 for p in percents), f"status progress never moved: {sorted(percents)}"

    page.wait_for_selector("#player-box[data-engine='hls.js']")
    options = page.locator("#quality option").all_inner_texts()
    wait_until(lambda: len(page.locator("#quality option").all_inner_texts()) >= 5, 20, "the HLS levels")
    options = page.locator("#quality option").all_inner_texts()
    assert options[:5] == ["Auto", "1080p", "720p", "480p", "360p"]
    page.evaluate("() => { const v = document.querySelector('#player'); v.muted = true; return v.play(); }")
    wait_until(lambda: page.evaluate("document.querySelector('#player').currentTime") > 0.5, 30, "playback")
    page.select_option("#quality", label="360p")
    wait_until(lambda: page.get_attribute("#player-box", "data-level") == "360", 20, "the 360p level")
    # Scrubbing preview: hovering the seek bar shows a tile of the sprite sheet.
    page.wait_for_selector("#scrub:not([hidden])")
    page.locator("#seek").hover(position={"x": 300, "y": 5})
    preview = page.locator("#scrub-preview")
    wait_until(lambda: "visible" in preview.get_attribute("class"), 5, f"the preview: {page.inner_html('#scrub')}")
    assert "sprite.jpg" in preview.evaluate("e => e.style.backgroundImage")
    screenshot(page, "result")
    # A quality's download link is short-lived and ours (its MP4 is put together as it is sent):
    # it gives an MP4 with no cookie.
    download = page.locator("a[download]").first.get_attribute("href")
    assert "/files/" in download, download
    got = page.context.browser.new_context().request.get(urljoin(page.url, download))
    assert got.status == 200 and got.headers["content-type"] == "video/mp4", got.status


@pytest.fixture
def filesystem_worker(without_session_worker, django_db_blocker, tmp_path):
    """A worker on the embedded filesystem storage (the test settings' default, shared by path)."""
    with django_db_blocker.unblock():
        worker = WorkerProcess(worker_env(), tmp_path / "fs-worker.log", f"fs-{uuid.uuid4().hex[:6]}")
    worker.start()
    yield worker
    worker.stop()


def test_filesystem_upload_goes_through_us_in_parts_and_shows_an_image(filesystem_worker, signed_in, user, tmp_path):
    from PIL import Image

    picture = tmp_path / "garden.png"
    Image.effect_mandelbrot((2400, 1600), (-2, -1.2, 1, 1.2), 60).convert("RGB").save(picture)
    page = signed_in(user)
    part_puts: list[str] = []
    page.on("request", lambda r: part_puts.append(r.url) if r.method == "PUT" else None)
    page.goto(reverse("asset_upload"))
    page.set_input_files("#file-input", str(picture))
    page.locator("#upload-list a.status-link").click()
    page.wait_for_selector("#asset-live[data-status='succeeded']", timeout=120_000)
    assert part_puts and all("/api/v1/uploads/" in url for url in part_puts), part_puts
    image = page.locator("#image")
    srcset = image.get_attribute("srcset")
    assert srcset.count("w,") >= 2 and "640w" in srcset
    wait_until(lambda: image.evaluate("i => i.complete && i.naturalWidth") > 0, 20, "the image to load")
    assert page.locator("picture source[type='image/webp']").count() == 1


def test_interrupted_upload_resumes_after_a_reload(celery_worker, s3_for_browsers, signed_in, user, tmp_path):
    data = os.urandom(20 * MiB)  # three 8 MiB parts
    big = tmp_path / "big.mov"
    big.write_bytes(data)
    page = signed_in(user)
    puts: list[int] = []
    listed = []
    page.on(
        "request",
        lambda r: (
            puts.append(int(re.search(r"partNumber=(\d+)", r.url).group(1)))
            if r.method == "PUT" and "partNumber=" in r.url
            else listed.append(r.url)
            if r.method == "GET" and r.url.endswith("/parts")
            else None
        ),
    )
    cut_off = [True]

    def drop_later_parts(route):
        """Part 1 goes through; the others fail like a dropped connection until the reload."""
        if cut_off[0] and not re.search(r"partNumber=1(&|$)", route.request.url):
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r"partNumber=\d+"), drop_later_parts)
    page.goto(reverse("asset_upload"))
    watch_uploads(page)
    page.set_input_files("#file-input", str(big))
    wait_until(lambda: page.evaluate("window.__parts").count(1) == 1, 60, "part 1 to arrive")
    page.reload()
    cut_off[0] = False
    page.wait_for_selector("#restore-note:not([hidden])")
    assert "Choose the same file" in page.inner_text("#restore-note")
    before = len(puts)
    page.set_input_files("#file-input", str(big))
    page.wait_for_selector("#upload-list a.status-link", timeout=60_000)
    after = puts[before:]
    assert listed, "the page did not ask which parts had arrived"
    assert 1 not in after and sorted(set(after)) == [2, 3], f"parts sent after the reload: {after}"
    assert 1 in puts[:before]
    upload = Asset.objects.get(original_filename="big.mov")
    stored = s3_for_browsers.get_object(Bucket=s3_for_browsers.bucket, Key=upload.original_key)["Body"].read()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()


def test_reload_in_the_middle_of_a_part_resumes_to_the_same_bytes(fs_storage, signed_in, user, tmp_path):
    """Filesystem backend: the page is reloaded while the server holds part of a part's body."""
    data = os.urandom(20 * MiB)  # parts of 8, 8 and 4 MiB
    big = tmp_path / "long-take.mov"
    big.write_bytes(data)
    page = signed_in(user)
    page.goto(reverse("asset_upload"))
    throttle_uploads(page, 1 * MiB)
    page.set_input_files("#file-input", str(big))

    def part_half_received():
        """Some part's body has partly reached the server (every part is over 3 MiB)."""
        received = [p.stat().st_size for p in (fs_storage / "uploads").rglob("*") if p.is_file()]
        return any(MiB // 2 <= size <= 3 * MiB for size in received)

    wait_until(lambda: (fs_storage / "uploads").exists() and part_half_received(), 120, "a part half sent", 0.05)
    page.reload()
    throttle_uploads(page, -1)
    page.wait_for_selector("#restore-note:not([hidden])")
    page.set_input_files("#file-input", str(big))
    page.wait_for_selector("#upload-list a.status-link", timeout=120_000)
    asset = Asset.objects.get(original_filename="long-take.mov")
    stored = (fs_storage / asset.original_key).read_bytes()
    assert len(stored) == len(data) and stored == data, f"stored {len(stored)} bytes of {len(data)}, not the file"


def test_cancel_a_running_transcode_from_admin(
    celery_worker, s3_for_browsers, signed_in, admin_user, user, alice_client, tmp_path
):
    from tests.e2e.test_upload_to_renditions import post

    clip = make_video(tmp_path / "long.mp4", width=1920, height=1080, duration=8.0, tone=880)
    job_id = post(alice_client, clip)["job_id"]
    wait_until(lambda: ffmpeg_processes_for(job_id) and Job.objects.get(pk=job_id).progress > 6, 120, "ffmpeg to run")
    page = signed_in(admin_user)
    page.goto(reverse("admin:media_tasks_job_changelist") + f"?q={job_id}")
    page.check(f"input[name='_selected_action'][value='{job_id}']")
    page.select_option("select[name='action']", "cancel")
    page.click("button[name='index']")
    page.wait_for_selector("text=1 job(s) cancelled")
    wait_until(lambda: not ffmpeg_processes_for(job_id), 10, "ffmpeg to stop after the cancel")
    assert Job.objects.get(pk=job_id).status == Job.Status.CANCELLED
    page.goto(reverse("admin:media_tasks_job_change", args=[job_id]))
    assert "Cancelled by admin" in page.content()


def test_an_upload_row_follows_its_job_to_a_failure(filesystem_worker, signed_in, user, tmp_path):
    """A text file named .mp4 uploads fine and then fails on the worker: its row says so, with
    the reason, without a visit to the item's page."""
    fake = tmp_path / "holiday.mp4"
    fake.write_text("These are my notes, not a video.\n" * 200)
    page = signed_in(user)
    page.goto(reverse("asset_upload"))
    page.set_input_files("#file-input", str(fake))
    page.wait_for_selector("#upload-list .state.error", timeout=120_000)
    text = page.inner_text("#upload-list tbody tr .state")
    assert text.startswith("Failed: ") and "not a video, sound or image we can read" in text, text
    assert page.locator("#upload-list tbody tr .state a.status-link").inner_text() == "details"
    assert page.inner_text("#upload-list tbody tr .speed") == ""
