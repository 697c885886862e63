"""The HLS link the API gives plays in a standard player with no cookie (filesystem backend).

ffprobe is the player: it takes the URL from `GET /api/v1/assets/{id}` and nothing else,
follows the master's relative names and decodes every variant. The link is signed for
one asset, expires, and reaches nothing outside that asset's HLS files.
"""

import base64
import http.client
import json
import re
import time
from urllib.parse import urlsplit

import pytest
import requests
from django.core import signing
from django.urls import reverse

from media_tasks import presenters
from tests.playback import assert_plays, hls_link, make_ready_video

pytestmark = pytest.mark.django_db(transaction=True)

RUNGS = {"480p": (854, 480), "360p": (640, 360)}


@pytest.fixture
def video(fs_storage, user, monkeypatch, tmp_path):
    return make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)


def asset_json(live_server, token: str, asset_id) -> dict:
    response = requests.get(
        f"{live_server.url}/api/v1/assets/{asset_id}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET a path exactly as written (no client-side clean-up of `..` or escapes)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_the_apis_hls_link_plays_every_variant_with_no_cookie(live_server, video, token):
    data = asset_json(live_server, token, video.id)
    link = hls_link(data)
    frames = assert_plays(link, RUNGS)
    assert set(frames) == {"480p", "360p"}
    assert link.startswith(live_server.url) and link.endswith("/master.m3u8"), link
    assert data["playback_url"] == link
    first = requests.get(link, timeout=30)
    assert first.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert first.headers["Access-Control-Allow-Origin"] == "*"  # hls.js on another origin


def test_a_segment_is_served_in_ranges(live_server, video, token):
    link = hls_link(asset_json(live_server, token, video.id))
    # A one-file rung: players fetch its init and each fragment as a byte range of it.
    stream = link.replace("master.m3u8", "video/480p-h264/480p-h264.mp4")
    whole = requests.get(stream, timeout=30)
    part = requests.get(stream, headers={"Range": "bytes=4-11"}, timeout=30)
    assert (whole.status_code, part.status_code) == (200, 206)
    assert part.content == whole.content[4:12] and part.content[:4] == b"ftyp"


def test_a_forged_or_expired_link_is_refused(live_server, video, token, monkeypatch):
    link = hls_link(asset_json(live_server, token, video.id))
    assert requests.get(link, timeout=30).status_code == 200
    prefix, token_part, name = link.rsplit("/", 2)
    # Another asset's id in the payload, the signature kept: a forgery.
    payload, rest = token_part.split(":", 1)
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["a"] = "00000000-0000-4000-8000-000000000000"
    forged = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
    assert requests.get(f"{prefix}/{forged}:{rest}/{name}", timeout=30).status_code == 404
    assert requests.get(f"{prefix}/{token_part[:-2]}xx/{name}", timeout=30).status_code == 404
    # A link made five hours ago (past MEDIA_PLAYBACK_EXPIRY_S, 4 h by default).
    past = int(time.time()) - 5 * 3600
    with monkeypatch.context() as m:
        m.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(past))
        old = presenters.playback_url(asset=video)
    assert requests.get(live_server.url + old, timeout=30).status_code == 404
    with pytest.raises(signing.SignatureExpired):
        presenters.links.playback_unsign(old.split("/")[2])


def test_the_link_reaches_nothing_outside_the_assets_hls_files(live_server, video, token, fs_storage):
    link = hls_link(asset_json(live_server, token, video.id))
    path = urlsplit(link).path
    base = path.rsplit("/", 1)[0]
    original = (fs_storage / video.original_key).read_bytes()
    for attempt in (
        f"{base}/../../files/x",
        f"{base}/../originals/source",
        f"{base}/%2e%2e/%2e%2e/originals/{video.id}/source",
        f"{base}/360p/..%2f..%2f..%2foriginals%2f{video.id}%2fsource",
        f"{base}/..%5c..%5coriginals%5csource",
        f"{base}/video/360p-h264/../../../renditions/360p.mp4",
        f"{base}//etc/passwd",
        f"{base}/video/360p-h264/sub/seg_00000.m4s",
    ):
        status, body = raw_get(live_server.url, attempt)
        assert status in (400, 404), (attempt, status)
        assert original not in body


def test_the_link_works_for_whoever_holds_it_and_no_longer_than_the_asset(live_server, video, token, other_api):
    link = hls_link(asset_json(live_server, token, video.id))
    assert other_api.get(f"/api/v1/assets/{video.id}").status_code == 404  # mallory cannot make one
    # Whoever holds it plays it, whatever credentials come along (hosted players send none).
    assert requests.get(link, headers={"Authorization": "Bearer nonsense"}, timeout=30).status_code == 200
    assert requests.get(link, cookies={"sessionid": "nonsense"}, timeout=30).status_code == 200
    requests.delete(
        f"{live_server.url}/api/v1/assets/{video.id}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert requests.get(link, timeout=30).status_code == 404


def test_a_bearer_token_on_a_page_path_gets_401_json_not_the_login_page(live_server, video, token):
    path = reverse("asset_file", args=[video.id, "hls/master.m3u8"])
    response = requests.get(
        live_server.url + path, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False, timeout=30
    )
    assert response.status_code == 401, (response.status_code, response.headers.get("Location"))
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_asset_page_links_the_playable_master(live_server, video, alice_client):
    page = alice_client.get(reverse("asset_detail", args=[video.id])).content.decode()
    (link,) = re.findall(r'href="(/play/[^"]+/master\.m3u8)"', page)
    assert requests.get(live_server.url + link, timeout=30).status_code == 200
