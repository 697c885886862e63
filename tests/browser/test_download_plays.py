"""The MP4 download of a rung, put together from its CMAF streams as it is sent, plays in
Chromium's <video> to its end, picture and sound, seeking by Range requests on the way."""

from __future__ import annotations

import pytest
from django.core import signing
from django.urls import reverse

from media_tasks import presenters, services
from tests.cmaf_media import PLAN, make_tracks, store_download
from tests.views.test_assets import upload_file

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DURATION = 4.0


def test_the_download_plays_to_its_end_with_sound(fs_storage, browser, live_server, user, monkeypatch, tmp_path):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    asset = services.asset_create(owner=user, fileobj=upload_file(), filename="trip.mp4", size_bytes=4108).job.asset
    store_download(asset.id, make_tracks(tmp_path / "streams", duration=DURATION), tmp_path)
    token = signing.dumps({"a": str(asset.id), "n": f"hls/{PLAN}"}, salt=presenters.links.DOWNLOAD_SALT)
    url = live_server.url + reverse("file_signed", args=[token])

    context = browser.new_context()
    page = context.new_page()
    ranges: list[str] = []
    page.on("request", lambda request: ranges.append(request.headers.get("range", "")))
    page.set_content(f'<video id="v" src="{url}" muted preload="auto"></video>')
    page.wait_for_function("() => document.querySelector('#v').readyState >= 1", timeout=30_000)
    info = page.evaluate("() => { const v = document.querySelector('#v'); return [v.duration, v.videoWidth]; }")
    assert info[0] == pytest.approx(DURATION, abs=0.1) and info[1] == 320

    page.evaluate("() => { const v = document.querySelector('#v'); v.currentTime = 2.5; return v.play(); }")
    page.wait_for_function("() => document.querySelector('#v').ended", timeout=30_000)
    played = page.evaluate(
        "() => { const v = document.querySelector('#v');"
        " return [v.error, v.webkitDecodedFrameCount, v.webkitAudioDecodedByteCount]; }"
    )
    context.close()
    assert played[0] is None and played[1] > 0 and played[2] > 0, played
    assert any(r.startswith("bytes=") for r in ranges), ranges
