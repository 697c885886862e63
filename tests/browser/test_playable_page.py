"""Playable in seconds (issue 21), in Chromium: uploaded through the page, the player appears and
plays while the job is still transcoding, and playback goes on to the end after it is ready."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from tests.browser.test_upload_page import s3_for_browsers  # noqa: F401 - a fixture
from tests.media import make_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECONDS = 20.0

# In the page: how the player fares (stalls once playing, how far the buffer runs ahead).
WATCH = """(video) => {
  window.__watch = {stalls: 0, started: false, ahead: [], ended: false};
  video.muted = true;
  video.addEventListener('ended', () => { window.__watch.ended = true; });
  video.addEventListener('playing', () => { window.__watch.started = true; });
  video.addEventListener('waiting', () => { if (window.__watch.started) window.__watch.stalls += 1; });
  setInterval(() => {
    const b = video.buffered;
    if (b.length) window.__watch.ahead.push(b.end(b.length - 1) - video.currentTime);
  }, 250);
  video.play();
}"""


def test_the_player_plays_while_the_ladder_is_made(celery_worker, s3_for_browsers, signed_in, user, tmp_path):  # noqa: F811
    clip = make_video(tmp_path / "street.mp4", width=1920, height=1080, duration=SECONDS, tone=587)
    page = signed_in(user)
    page.goto(reverse("asset_upload"))
    page.set_input_files("#file-input", str(clip))
    page.locator("#upload-list a.status-link").click()
    page.wait_for_url(re.compile(r"/assets/[0-9a-f-]+/$"))
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.wait_for_selector("#player-box[data-growing] video", timeout=120_000)
    assert page.get_attribute("#asset-live", "data-status") == "transcoding"
    assert "More qualities are coming." in page.inner_text("#player-box")
    assert page.locator(".timeline .step-done", has_text="Playable").count() == 1
    page.locator("#player").evaluate(WATCH)
    played_while_transcoding = 0.0
    early = {"stalls": 0, "ahead": []}  # the watch while the job transcodes: the lead quality alone
    deadline = time.monotonic() + 240
    while (status := page.get_attribute("#asset-live", "data-status")) != "succeeded":
        assert time.monotonic() < deadline, page.inner_text("#asset-live")
        assert status != "failed", page.inner_text("#asset-live")
        if status == "transcoding":
            played_while_transcoding = page.locator("#player").evaluate("v => v.currentTime")
            early = page.evaluate("window.__watch")
        time.sleep(0.2)
    assert played_while_transcoding > 0, "the video did not play while the job was transcoding"
    state = "v => ({t: v.currentTime, d: v.duration, paused: v.paused, ended: v.ended, err: v.error && v.error.code})"
    try:  # to the end: in the early player already (its quality is made well ahead), or in the full one
        page.wait_for_function(
            "() => window.__watch.ended || document.querySelector('#player').ended", timeout=(SECONDS + 30) * 1000
        )
    except Exception:
        growing = page.get_attribute("#player-box", "data-growing")
        pytest.fail(f"not played to the end: {page.locator('#player').evaluate(state)}, early player kept: {growing}")
    # Every quality in the picker of the player the page ends with (its master loads in a moment).
    page.wait_for_function("() => document.querySelectorAll('#quality option').length > 3", timeout=30_000)
    levels = page.locator("#quality option").all_inner_texts()
    ahead = sorted(early["ahead"] or [0])
    print(
        f"\nplayed {played_while_transcoding:.1f} s while transcoding; stalls then: {early['stalls']};"
        f" buffer ahead of the viewer: min {ahead[0]:.1f} s, median {ahead[len(ahead) // 2]:.1f} s; qualities {levels}"
    )
    # The viewer who started at once never ran out of buffer while the ladder was being made.
    assert early["stalls"] == 0, early
    assert {"1080p", "720p", "360p"} <= set(levels), levels
    assert navigations == [], f"the page reloaded: {navigations}"
