"""The player in Chromium (issue 28): speed, volume, picture-in-picture, the j/k/l/f/m keys,
resuming where the viewer left off, the MP4 fallback fetched only when it is used, and the early
player showing the source's whole duration while its playlist grows."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from media_tasks import services, storage
from media_tasks.models import Job
from media_tasks.pipeline import hls as hls_ops
from tests.playback import make_ready_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VIDEO = "() => document.querySelector('#player')"
CURRENT = "() => document.querySelector('#player').currentTime"


def _own_controls(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#player-box[data-controls='own']")


def test_the_mp4_fallback_is_fetched_only_when_hls_fails(
    fs_storage, signed_in, browser, live_server, user, monkeypatch, tmp_path
):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=4)
    url = reverse("asset_detail", args=[asset.id])
    page = signed_in(user)
    mp4: list[str] = []  # a rung's MP4 is its download, put together from its plan
    page.on("request", lambda request: mp4.append(request.url) if "/download.json" in request.url else None)
    page.goto(url)
    page.wait_for_selector("#player-box[data-engine='hls.js']")
    page.evaluate(f"() => {{ const v = ({VIDEO})(); v.muted = true; return v.play(); }}")
    page.wait_for_function(f"() => ({CURRENT})() > 0.5")
    assert mp4 == [], f"HLS plays, yet the MP4 fallback was requested: {mp4}"
    assert page.locator("#player source[src]").count() == 0

    # HLS out of reach: the player falls back to the MP4 rungs, and only then fetches one.
    broken = signed_in(user)
    broken.route(re.compile(r".*/hls/.*\.(m3u8|m4s|mp4)$"), lambda route: route.abort())
    broken.on("request", lambda request: mp4.append(request.url) if "/download.json" in request.url else None)
    broken.goto(url)
    broken.wait_for_selector("#player-box[data-engine='mp4']", timeout=30_000)
    broken.evaluate(f"() => {{ const v = ({VIDEO})(); v.muted = true; return v.play(); }}")
    broken.wait_for_function(f"() => ({CURRENT})() > 0.3")
    assert any("/video/" in u for u in mp4), mp4

    # The shared page, for anyone with the link: no MP4 either while HLS plays (its links are
    # signed and name no file, so the video element's own requests are counted).
    asset = services.asset_share(asset_id=asset.id, shared=True)
    anyone = browser.new_context(base_url=live_server.url)
    shared = anyone.new_page()
    media: list[str] = []
    shared.on("request", lambda request: media.append(request.url) if request.resource_type == "media" else None)
    shared.goto(reverse("shared", args=[asset.share_token]))
    shared.wait_for_selector("#player-box[data-engine='hls.js']")
    shared.evaluate(f"() => {{ const v = ({VIDEO})(); v.muted = true; return v.play(); }}")
    shared.wait_for_function(f"() => ({CURRENT})() > 0.5")
    anyone.close()
    assert media == [], f"the shared page fetched the MP4 fallback: {media}"


def test_speed_volume_picture_in_picture_and_keys(fs_storage, signed_in, user, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=14)
    page = signed_in(user)
    _own_controls(page, reverse("asset_detail", args=[asset.id]))
    page.select_option("#speed", "1.5")
    assert page.evaluate(f"() => ({VIDEO})().playbackRate") == 1.5
    page.locator("#volume").fill("0.3")
    assert abs(page.evaluate(f"() => ({VIDEO})().volume") - 0.3) < 0.01
    pip_enabled = page.evaluate("() => !!document.pictureInPictureEnabled")
    assert page.locator("#pip").count() == 1 and page.locator("#pip").is_visible() == pip_enabled

    # The keys, while the player has focus; each is said to a screen reader.
    assert page.get_attribute("#player", "aria-keyshortcuts") == "j k l f m"
    page.focus("#player")
    page.keyboard.press("l")
    page.wait_for_function(f"() => Math.abs(({CURRENT})() - 10) < 0.5")
    assert "10 seconds" in page.inner_text("#player-announcer")
    page.keyboard.press("j")
    page.wait_for_function(f"() => ({CURRENT})() < 0.5")
    page.keyboard.press("m")
    assert page.evaluate(f"() => ({VIDEO})().muted") is True
    page.wait_for_function("() => document.querySelector('#player-announcer').textContent === 'Muted'")
    page.keyboard.press("k")
    page.wait_for_function(f"() => !({VIDEO})().paused")
    page.keyboard.press("k")
    page.wait_for_function(f"() => ({VIDEO})().paused")
    page.keyboard.press("f")
    page.wait_for_function("() => document.fullscreenElement && document.fullscreenElement.id === 'player-box'")
    # In full screen the controls' words are light on the black around the video.
    colour = page.evaluate("() => getComputedStyle(document.querySelector('#player-box .controls label')).color")
    assert sum(int(c) for c in re.findall(r"\d+", colour)[:3]) > 600, colour
    page.keyboard.press("f")
    page.wait_for_function("() => !document.fullscreenElement")

    # Typing in a field is not taken for a key of the player.
    page.click("summary:has-text('Edit title')")
    page.fill("#id_title", "")
    page.focus("#id_title")
    page.keyboard.type("km")
    assert page.input_value("#id_title") == "km"
    assert page.evaluate(f"() => ({VIDEO})().paused") is True
    assert page.evaluate(f"() => ({VIDEO})().muted") is True, "m in the field did not unmute"


def test_the_player_resumes_where_the_viewer_left_off(fs_storage, signed_in, user, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=14)
    url = reverse("asset_detail", args=[asset.id])
    page = signed_in(user)
    _own_controls(page, url)
    page.focus("#seek")
    page.keyboard.press("ArrowRight")  # to 0:05
    page.wait_for_function(f"() => Math.abs(({CURRENT})() - 5) < 0.5")
    # Kept once the seek has landed (its `seeked` event), not at the press: wait for that write.
    page.wait_for_function("() => Object.keys(localStorage).some((k) => k.startsWith('media-position:'))")
    page.reload()
    page.wait_for_selector("#player-box[data-controls='own']")
    page.wait_for_function(f"() => Math.abs(({CURRENT})() - 5) < 0.5", timeout=10_000)
    assert "Resumed at 0:05" in page.inner_text("#resume-note")
    page.click("#start-over")
    page.wait_for_function(f"() => ({CURRENT})() < 0.5")

    # Watched to its last seconds: the next visit starts from the beginning.
    page.focus("#seek")
    page.keyboard.press("End")
    page.reload()
    page.wait_for_selector("#player-box[data-controls='own']")
    page.wait_for_function(f"() => ({VIDEO})().readyState >= 1")
    assert page.evaluate(CURRENT) < 0.5
    assert not page.locator("#resume-note").is_visible()


def _as_if_still_encoding(root: Path, asset, segments: int) -> None:
    """The job back in transcoding, playable, with the lead (360p) and the sound's playlists as the
    encode leaves them early: EVENT playlists naming their first `segments` only, and a master
    naming the lead alone, with its audio group."""
    job = asset.latest_job
    Job.objects.filter(pk=job.pk).update(status=Job.Status.TRANSCODING, playable_at=timezone.now(), progress=40)
    for stream in ("video/360p-h264", "audio/128k-aac"):
        variant = root / storage.asset_key(storage.HLS, asset.id, f"{stream}/{hls_ops.PLAYLIST}")
        lines = variant.read_text().splitlines()
        head = [
            line for line in lines if line.startswith("#EXT") and not line.startswith(("#EXTINF", "#EXT-X-ENDLIST"))
        ]
        head = [hls_ops.EVENT_TYPE if line.startswith("#EXT-X-PLAYLIST-TYPE") else line for line in head]
        body = [line for line in lines if line.startswith("#EXTINF") or (line and not line.startswith("#"))]
        variant.write_text("\n".join([*head, *body[: 2 * segments]]) + "\n")
    master = root / storage.asset_key(storage.HLS, asset.id, "master.m3u8")
    text = master.read_text().splitlines()
    kept = ["#EXTM3U", *(line for line in text if line.startswith(("#EXT-X-VERSION", "#EXT-X-MEDIA:")))]
    for info, name in itertools.pairwise(text):
        if info.startswith("#EXT-X-STREAM-INF") and name.startswith("video/360p-h264/"):
            kept += [info, name]
    master.write_text("\n".join(kept) + "\n")


def test_the_early_player_shows_the_whole_duration_and_says_it_in_sentences(
    fs_storage, signed_in, user, monkeypatch, tmp_path
):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=14)
    _as_if_still_encoding(fs_storage, asset, segments=2)
    page = signed_in(user)
    page.goto(reverse("asset_detail", args=[asset.id]))
    page.wait_for_selector("#player-box[data-growing][data-controls='own']")
    page.wait_for_function(f"() => ({VIDEO})().duration > 0")
    assert page.evaluate(f"() => ({VIDEO})().duration") < 10, "the playlist names its first segments only"
    page.wait_for_function("() => document.querySelector('#time').textContent.endsWith('/ 0:14')")
    page.wait_for_function("() => document.querySelector('#playing-level').textContent.includes('360p')")
    text = " ".join(page.inner_text("#player-box").split())
    assert "Playing 360p." in text and "Playable now. More qualities are coming." in text, text


def test_the_poster_is_taken_at_the_moment_the_player_shows(fs_storage, signed_in, user, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=14)
    page = signed_in(user)
    _own_controls(page, reverse("asset_detail", args=[asset.id]))
    page.focus("#seek")
    page.keyboard.press("ArrowRight")  # to 0:05
    page.click("#details > summary")
    page.click("#poster-now")
    assert page.input_value("#id_poster_time") == "0:05"
    page.click("text=Use this moment")
    page.wait_for_selector("text=The frame at 0:05 is being taken")
