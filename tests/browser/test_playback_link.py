"""hls.js in a real browser plays the API's HLS link from a page on another origin, with no cookie.

The page is served by a second HTTP server on another port (another origin), as a
customer's site embedding the video would be; the browser context has no session. On S3
each segment is a redirect to a presigned GET, which the bucket's CORS rule must let the
page read (MEDIA_CORS_ORIGINS; a cross-origin redirect may make the browser send
`Origin: null`, so `*` is the rule for players on any site).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from media_tasks import services, storage
from tests.conftest import wait_until
from tests.playback import hls_link, make_ready_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HLS_JS = Path(__file__).resolve().parents[2] / "static" / "vendor" / "hls.min.js"
PAGE = """<!doctype html><html><body>
<video id="v" muted playsinline></video>
<script src="hls.min.js"></script>
<script>
  window.__errors = []; window.__levels = 0;
  function play(url) {
    const hls = new Hls();
    hls.on(Hls.Events.ERROR, (e, d) => window.__errors.push(d.type + ':' + d.details + (d.fatal ? ':fatal' : '')));
    hls.on(Hls.Events.MANIFEST_PARSED, (e, d) => { window.__levels = d.levels.length; });
    hls.loadSource(url);
    hls.attachMedia(document.getElementById('v'));
    document.getElementById('v').play();
  }
</script></body></html>"""


@pytest.fixture
def other_origin(static_site):
    """A plain static site on its own port: the page that embeds the player."""
    return static_site(PAGE, {"hls.min.js": HLS_JS})


@pytest.mark.parametrize("backend", ["fs_storage", "s3_storage"])
def test_hls_js_on_another_origin_plays_the_apis_link(
    request, backend, browser, live_server, other_origin, user, monkeypatch, tmp_path
):
    request.getfixturevalue(backend)
    storage.bucket_cors_ensure(["*"])  # S3: what storage_setup does with MEDIA_CORS_ORIGINS=*
    token = services.api_token_create(owner=user, name="site").plaintext
    video = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, tone=733)
    data = requests.get(
        f"{live_server.url}/api/v1/assets/{video.id}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    link = hls_link(data)
    context = browser.new_context()  # no cookie, no session
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        fetched: list[str] = []
        page.on("requestfinished", lambda r: fetched.append(r.url))
        page.goto(other_origin + "/index.html")
        assert page.evaluate("location.origin") != live_server.url
        page.evaluate("url => play(url)", link)
        wait_until(
            lambda: (
                page.evaluate("document.getElementById('v').currentTime") > 0.5
                or page.evaluate("window.__errors.some(e => e.endsWith(':fatal'))")
            ),
            60,
            "playback",
        )
        errors = page.evaluate("window.__errors")
        assert not [e for e in errors if e.endswith(":fatal")], errors
        assert page.evaluate("window.__levels") == 2
        assert page.evaluate("document.getElementById('v').currentTime") > 0.5
        if backend == "s3_storage":  # the segments came from S3, the playlists from us
            assert any("X-Amz-Signature=" in url for url in fetched), fetched
    finally:
        context.close()
