"""The embed in another site's iframe, in Chromium (issue 28): framed where its owner allows,
refused elsewhere, and once sharing stops a page saying so instead of the broken-frame icon.

The host page is served by a second HTTP server on another port (another origin), as a
customer's site would be; the browser has no session."""

from __future__ import annotations

import functools
import threading
import uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from media_tasks import services, storage
from tests.conftest import wait_until
from tests.playback import make_ready_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def host_site(tmp_path):
    """(origin, folder) of a plain static site on its own port: the page that frames the embed."""
    root = tmp_path / "site"
    root.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


@pytest.fixture
def shared_video(fs_storage, user, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    return services.asset_share(asset_id=asset.id, shared=True)


def framed(browser, live_server, host_site, embed_path: str) -> tuple[str, str, list[str]]:
    """Open a host page framing the embed: (the frame's URL, its text, the console's messages)."""
    origin, root = host_site
    name = f"{uuid.uuid4().hex}.html"  # a new page each time: no cached copy
    (root / name).write_text(f'<!doctype html><iframe src="{live_server.url}{embed_path}" width="640" height="360">')
    context = browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{origin}/{name}", wait_until="load")  # the iframe's load included, refused or not
    frame = page.frames[1]
    text = "" if frame.url.startswith("chrome-error:") else frame.inner_text("body")
    has_video = not frame.url.startswith("chrome-error:") and frame.locator("video").count() == 1
    context.close()
    return frame.url, text + (" [video]" if has_video else ""), console


def test_a_revoked_embed_shows_why_in_the_frame(browser, live_server, host_site, shared_video):
    path = reverse("shared_embed", args=[shared_video.share_token])
    url, text, _ = framed(browser, live_server, host_site, path)
    assert url.endswith(path) and "[video]" in text
    services.asset_share(asset_id=shared_video.id, shared=False)
    url, text, console = framed(browser, live_server, host_site, path)
    assert "This video is not available" in text, (url, text, console)
    assert not [m for m in console if "frame-ancestors" in m], console  # no CSP refusal


def test_the_embed_is_framed_only_by_the_sites_its_owner_names(browser, live_server, host_site, shared_video):
    path = reverse("shared_embed", args=[shared_video.share_token])
    services.asset_embed_origins_set(asset_id=shared_video.id, origins=["https://blog.example.com"])
    url, text, console = framed(browser, live_server, host_site, path)
    assert "[video]" not in text and any("frame-ancestors" in m for m in console), (url, text, console)
    services.asset_embed_origins_set(asset_id=shared_video.id, origins=["https://blog.example.com", host_site[0]])
    url, text, console = framed(browser, live_server, host_site, path)
    assert "[video]" in text, (url, text, console)


def test_on_s3_the_framed_embed_plays_through_its_checked_links(
    browser, live_server, host_site, s3_storage, user, monkeypatch, tmp_path
):
    """Each segment is our link, checked against the share, then a presigned URL of seconds
    (MEDIA_SHARED_REDIRECT_EXPIRY_S): hls.js follows it at once, so the video plays."""
    storage.bucket_cors_ensure(["*"])  # what storage_setup does with MEDIA_CORS_ORIGINS=*
    video = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=4)
    video = services.asset_share(asset_id=video.id, shared=True)
    origin, root = host_site
    embed = f"{live_server.url}{reverse('shared_embed', args=[video.share_token])}"
    (root / "host.html").write_text(f'<!doctype html><iframe src="{embed}" width="640" height="360"></iframe>')
    context = browser.new_context()
    try:
        page = context.new_page()
        fetched: list[str] = []
        page.on("requestfinished", lambda r: fetched.append(r.url))
        page.goto(f"{origin}/host.html", wait_until="load")
        frame = page.frames[1]
        frame.wait_for_selector("#player-box[data-engine]")
        frame.evaluate("() => { const v = document.querySelector('video'); v.muted = true; v.play(); }")
        wait_until(lambda: frame.evaluate("document.querySelector('video').currentTime") > 0.5, 60, "playback")
        from_s3 = [url for url in fetched if "X-Amz-Signature=" in url]
        expiries = {parse_qs(urlsplit(url).query)["X-Amz-Expires"][0] for url in from_s3}
        assert expiries == {str(settings.MEDIA_SHARED_REDIRECT_EXPIRY_S)}, fetched
    finally:
        context.close()
