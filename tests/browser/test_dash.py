"""dash.js (the vendored player) in Chromium plays the API's `dash_url` from a page on another origin,
with no cookie, past 2 s, with a video and an audio track chosen.

Two sources of streams: ones made here with ffmpeg's tee and write_mpd (one rung as ONE CMAF file
addressed by byte ranges, one as init + segment files, the sound as segments), stored through the
storage backend; and the platform's own encode (make_ready_video: every stage, in this process;
and an upload through the API that a real worker encodes onto S3).
Either way the MPD is read through our play view and the media through it (filesystem) or by
redirects to presigned GETs (S3), byte ranges included.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from media_tasks import services, storage
from media_tasks.models import Job, Rendition
from media_tasks.pipeline import dash
from media_tasks.pipeline.identity import MPD
from tests.conftest import wait_until
from tests.dash_media import encode_streams, ladder
from tests.e2e.test_upload_to_renditions import wait_for_job
from tests.factories import video_with_frame
from tests.media import make_video
from tests.playback import make_ready_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DASH_JS = Path(__file__).resolve().parents[2] / "static" / "vendor" / "dash.mediaplayer.min.js"
PAGE = """<!doctype html><html><body>
<video id="v" muted playsinline></video>
<script src="dash.mediaplayer.min.js"></script>
<script>
  window.__errors = [];
  function play(url, kbps) {
    const player = dashjs.MediaPlayer().create();
    // One rung held throughout (the nearest at or below kbps), so each addressing is what plays.
    player.updateSettings({streaming: {abr: {initialBitrate: {video: kbps}, autoSwitchBitrate: {video: false}}}});
    player.on(dashjs.MediaPlayer.events.ERROR, e => window.__errors.push(JSON.stringify(e.error || e)));
    player.initialize(document.getElementById('v'), url, true);
    window.__player = player;
  }
  function chosen(type) {
    const track = window.__player.getCurrentTrackFor(type);
    return track ? track.mimeType : null;
  }
</script></body></html>"""


@pytest.fixture
def other_origin(static_site):
    """A plain static site on its own port: the page that embeds the player."""
    return static_site(PAGE, {DASH_JS.name: DASH_JS})


def store_hand_made_streams(user, monkeypatch, tmp_path):
    """An asset whose stream area holds streams made here and their MPD, recorded as at ready."""
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    asset = video_with_frame(owner=user, job_status=Job.Status.SUCCEEDED)
    root = encode_streams(tmp_path / "area", tone=523)
    videos, audio = ladder(root)
    (root / MPD).write_text(dash.write_mpd(videos, audio))
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        with path.open("rb") as fh:
            storage.save_stream(storage.asset_key(storage.HLS, asset.id, path.relative_to(root).as_posix()), fh)
    Rendition.objects.create(
        asset=asset,
        kind=Rendition.Kind.DASH,
        profile="manifest",
        width=0,
        height=0,
        storage_key=storage.asset_key(storage.HLS, asset.id, MPD),
    )
    return asset


def play_dash_url(browser, live_server, other_origin, user, asset, kbps: int = 100_000) -> list[str]:
    """Plays the API's dash_url in a context with no session, held at the rung nearest `kbps` (the
    top one by default); the URLs the page fetched."""
    token = services.api_token_create(owner=user, name="site").plaintext
    data = requests.get(
        f"{live_server.url}/api/v1/assets/{asset.id}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    link = data["dash_url"]
    assert link and link.startswith(live_server.url) and link.endswith(f"/{MPD}"), data
    context = browser.new_context()  # no cookie, no session
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        fetched: list[str] = []  # "<status> <url> <the byte range asked for>" of each response
        page.on(
            "response", lambda r: fetched.append(f"{r.status} {r.url} {r.request.headers.get('range', '')}".strip())
        )
        page.goto(other_origin + "/index.html")
        assert page.evaluate("location.origin") != live_server.url
        page.evaluate("([url, kbps]) => play(url, kbps)", [link, kbps])
        wait_until(
            lambda: page.evaluate("document.getElementById('v').currentTime") > 2.2 or page.evaluate("__errors.length"),
            60,
            "DASH playback past 2 s",
        )
        assert page.evaluate("__errors") == []
        assert page.evaluate("document.getElementById('v').currentTime") > 2.2
        assert page.evaluate("chosen('video')") == "video/mp4"
        assert page.evaluate("chosen('audio')") == "audio/mp4"
        assert page.evaluate("document.getElementById('v').videoWidth") > 0
        assert page.evaluate("document.getElementById('v').webkitAudioDecodedByteCount") > 0  # the sound was played
        return fetched
    finally:
        context.close()


@pytest.mark.parametrize(("backend", "rung"), [("fs_storage", "180p"), ("fs_storage", "144p"), ("s3_storage", "180p")])
def test_dash_js_plays_one_file_by_byte_ranges_and_segment_files(
    request, backend, rung, browser, live_server, other_origin, user, monkeypatch, tmp_path
):
    """180p is one CMAF file (byte ranges), 144p init.mp4 + seg_*.m4s (tests/dash_media.py)."""
    request.getfixturevalue(backend)
    storage.bucket_cors_ensure(["*"])  # S3: what storage_setup does with MEDIA_CORS_ORIGINS=*
    asset = store_hand_made_streams(user, monkeypatch, tmp_path)
    fetched = play_dash_url(browser, live_server, other_origin, user, asset, kbps=100_000 if rung == "180p" else 1)
    video = [url for url in fetched if "/video/" in url]
    assert video and all(f"/video/{rung}-h264/" in url for url in video), video  # held at that rung
    if rung == "180p":  # one file: the init and each fragment a byte range of it
        # From us: a byte range, answered in part (filesystem) or by a redirect to S3 (which Chromium
        # follows with the same Range, so the answer there is a 206 too).
        ours = [url for url in video if "/play/" in url]
        assert len(ours) >= 3 and all("/180p-h264.mp4 bytes=" in url for url in ours), ours
        assert all(url.startswith(("206 ", "302 ")) for url in ours) and all(
            url.startswith("206 ") for url in video if url not in ours
        ), video
    else:
        assert any("/init.mp4" in url for url in video) and any("/seg_00001.m4s" in url for url in video), video
    assert any("/audio/128k-aac/seg_" in url for url in fetched), fetched
    if backend == "s3_storage":  # the media came from S3, the MPD from us
        assert any(url.startswith("206 ") and "X-Amz-Signature=" in url for url in fetched), fetched


def test_dash_js_plays_what_the_platform_encoded(
    browser, live_server, other_origin, user, monkeypatch, tmp_path, fs_storage
):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, tone=659, duration=3.0, size=(640, 360))
    assert asset.renditions.filter(kind=Rendition.Kind.DASH).exists()
    fetched = play_dash_url(browser, live_server, other_origin, user, asset)
    assert any("/video/" in url and "/seg_00001.m4s" in url for url in fetched), fetched


def test_dash_js_plays_an_upload_the_worker_made(
    celery_worker, s3_storage, browser, live_server, other_origin, user, tmp_path
):
    """End to end: uploaded through the API, encoded by a real worker onto S3, played from dash_url."""
    storage.bucket_cors_ensure(["*"])
    clip = make_video(tmp_path / "walk.mp4", width=854, height=480, duration=3.0, tone=587)
    token = services.api_token_create(owner=user, name="uploader").plaintext
    with clip.open("rb") as fh:
        accepted = requests.post(
            f"{live_server.url}/api/v1/assets",
            files={"file": fh},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
    assert accepted.status_code == 202, accepted.text
    job, _ = wait_for_job(accepted.json()["job_id"], celery_worker)
    assert job.status == Job.Status.SUCCEEDED, job.error
    fetched = play_dash_url(browser, live_server, other_origin, user, job.asset)
    assert any(url.startswith("206 ") and "X-Amz-Signature=" in url for url in fetched), fetched
