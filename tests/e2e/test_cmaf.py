"""Every stream stored once (CMAF), used as an outsider would: only the URLs the API gives, no
cookie. On S3 through a real worker on RabbitMQ, and on the filesystem backend: HLS and DASH
decode picture and sound with the source's duration, the master names an audio group, the media
playlists use EXT-X-MAP, every rung's download is an MP4 with both streams, and the stored bytes
are one copy of the media, near enough."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.media import make_video
from tests.playback import api_upload_ready, make_ready_video, probe_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECONDS = 4.0
# Stored bytes for playback and downloads over one copy of every stream the master names.
STORED_OVER_MEDIA_MAX = 1.15


def asset_json(base: str, token: str, asset_id) -> dict:
    response = requests.get(
        f"{base}/api/v1/assets/{asset_id}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def decoded(url: str) -> dict[str, float]:
    """codec → seconds decoded, every packet of the URL read by ffmpeg (as a player, no cookie)."""
    info = probe_url(url, "-show_entries", "stream=codec_type,codec_name:format=duration")
    assert info.get("streams"), info.get("stderr", "")[-800:]
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", url, "-map", "0:v:0", "-map", "0:a:0", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    # ffmpeg says so when a redirect (S3) takes it to another host; it opens a new connection.
    errors = [line for line in done.stderr.splitlines() if "Cannot reuse HTTP connection" not in line]
    assert done.returncode == 0 and not errors, done.stderr[-800:]
    return {s["codec_name"]: float(info["format"]["duration"]) for s in info["streams"]}


def media_bytes(url: str) -> int:
    """One copy of a stream: the bytes of its packets, as ffprobe reads them from the URL."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_entries", "packet=size", url],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return sum(int(p["size"]) for p in json.loads(done.stdout)["packets"])


def check_outputs(data: dict, tmp_path: Path) -> int:
    """What a player and a downloader see; returns the bytes of one copy of the media."""
    master_url, dash_url = data["playback_url"], data["dash_url"]
    assert master_url and dash_url, data
    for url in (master_url, dash_url):
        seconds = decoded(url)
        assert {"h264", "aac"} <= set(seconds), (url, seconds)
        assert seconds["h264"] == pytest.approx(SECONDS, abs=0.15), (url, seconds)
    master = requests.get(master_url, timeout=30).text
    assert "#EXT-X-VERSION:7" in master
    audio = [line for line in master.splitlines() if line.startswith("#EXT-X-MEDIA:TYPE=AUDIO")]
    assert len(audio) == 1 and 'GROUP-ID="audio"' in audio[0], master
    variants = [line for line in master.splitlines() if line.startswith("#EXT-X-STREAM-INF")]
    assert variants and all('AUDIO="audio"' in line for line in variants), master
    playlists = [urljoin(master_url, line) for line in master.splitlines() if line and not line.startswith("#")]
    sound = urljoin(master_url, audio[0].split('URI="', 1)[1].split('"', 1)[0])
    for url in [*playlists, sound]:
        text = requests.get(url, timeout=30).text
        assert "#EXT-X-MAP:URI=" in text and "#EXT-X-ENDLIST" in text, (url, text[:400])
    downloads = [r for r in data["renditions"] if r["kind"] == "mp4"]
    assert len(downloads) == len(playlists)
    for rendition in downloads:
        got = requests.get(rendition["url"], timeout=60)  # a redirect (none today) would be followed too
        assert got.status_code == 200 and got.headers["Content-Type"] == "video/mp4", got.status_code
        assert f"-{rendition['profile']}.mp4" in got.headers["Content-Disposition"]
        path = tmp_path / f"{rendition['profile']}.mp4"
        path.write_bytes(got.content)
        seconds = decoded(str(path))
        assert {"h264", "aac"} <= set(seconds) and seconds["h264"] == pytest.approx(SECONDS, abs=0.15)
    return sum(media_bytes(url) for url in [*playlists, sound])


def test_on_s3_every_stream_is_stored_once_and_plays_as_hls_dash_and_mp4(
    celery_worker, s3_storage, live_server, token, tmp_path
):
    clip = make_video(tmp_path / "walk.mp4", width=854, height=480, duration=SECONDS, tone=523, noise=True)
    data = api_upload_ready(live_server.url, token, clip, celery_worker)
    media = check_outputs(data, tmp_path)
    s3 = s3_storage
    stored = {
        obj["Key"]: obj["Size"]
        for area in ("hls", "renditions")
        for obj in s3.list_objects_v2(Bucket=s3.bucket, Prefix=f"{area}/{data['id']}/").get("Contents", [])
    }
    assert not any(key.endswith(".ts") for key in stored), sorted(stored)
    ratio = sum(stored.values()) / media
    print(f"\nS3: {len(stored)} objects, {sum(stored.values())} bytes stored for {media} of media: {ratio:.3f}x")
    assert ratio <= STORED_OVER_MEDIA_MAX, sorted(stored.items())


def test_on_the_filesystem_every_stream_is_stored_once_and_plays(
    fs_storage, user, token, live_server, monkeypatch, tmp_path
):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=SECONDS)
    data = asset_json(live_server.url, token, asset.id)
    media = check_outputs(data, tmp_path)
    root = Path(fs_storage)
    stored = [p for area in ("hls", "renditions") for p in (root / area / str(asset.id)).rglob("*") if p.is_file()]
    ratio = sum(p.stat().st_size for p in stored) / media
    print(f"\nfilesystem: {len(stored)} files, {ratio:.3f}x one copy of the media")
    assert ratio <= STORED_OVER_MEDIA_MAX
