"""A sound alone in Chromium (issue 31): uploaded on the upload page, made by a real worker on
RabbitMQ and S3, then played on its page by hls.js with the same controls and seek bar as a video,
its waveform as the poster (there and in My media) and its cover art beside it."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from media_tasks import storage
from tests.conftest import wait_until
from tests.media import make_sound

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

_SIZE = (
    "async (src) => { const i = new Image(); i.src = src; await i.decode(); return [i.naturalWidth, i.naturalHeight]; }"
)


def test_an_audio_upload_plays_on_its_page_with_its_waveform_shown(
    celery_worker,
    s3_storage,
    signed_in,
    user,
    tmp_path,
):
    storage.bucket_cors_ensure(["*"])  # the browser uploads straight to S3
    song = make_sound(tmp_path / "song.mp3", duration=6.0, cover=True)
    page = signed_in(user)
    page.goto(reverse("asset_upload"))
    page.set_input_files("#file-input", str(song))
    link = page.locator("#upload-list a.status-link")
    wait_until(lambda: link.count() > 0, 60, "the upload")
    link.click()
    page.wait_for_url(re.compile(r"/assets/[0-9a-f-]+/$"))
    deadline = time.monotonic() + 120
    while page.get_attribute("#asset-live", "data-status") != "succeeded":
        assert time.monotonic() < deadline and page.get_attribute("#asset-live", "data-status") != "failed", (
            page.inner_text("#asset-live")
        )
        time.sleep(0.2)

    page.wait_for_selector("#player-box[data-engine='hls.js']")
    poster = page.get_attribute("#player", "poster")
    assert poster and "waveform.png" in poster
    assert page.evaluate(_SIZE, poster) == [1280, 360]
    assert page.evaluate("() => document.querySelector('#cover-art').naturalWidth") == 600
    assert page.locator("#quality").count() == 0, "one quality: no picker"
    page.wait_for_selector("#scrub:not([hidden])")
    wait_until(lambda: float(page.get_attribute("#seek", "max") or 0) > 5.5, 20, "the seek bar's length")
    assert float(page.get_attribute("#seek", "max")) == pytest.approx(6.0, abs=0.2)

    page.evaluate("() => { document.querySelector('#player').muted = true; }")
    page.locator("#play").focus()
    page.keyboard.press("Enter")  # no mouse
    wait_until(lambda: page.evaluate("document.querySelector('#player').currentTime") > 1.0, 30, "playback")
    page.keyboard.press("l")  # forward 10 s: to the end of a 6 s sound
    wait_until(lambda: page.evaluate("document.querySelector('#player').ended"), 20, "the end")
    played = page.evaluate("() => document.querySelector('#player').webkitAudioDecodedByteCount")
    assert played > 0, "sound was decoded"

    page.goto(reverse("asset_list"))
    preview = page.locator("#asset-rows img, table img").first
    assert "waveform.png" in preview.get_attribute("src")
    assert page.evaluate(_SIZE, preview.get_attribute("src")) == [1280, 360]
