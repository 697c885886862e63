"""Helpers for the playback tests: a ready video made in this process, and what a player sees of a link.

`ffprobe` is the player here: it fetches the URL over HTTP with no cookie, follows the
master playlist's relative names and redirects, and decodes what it finds.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import urljoin

import requests

from media_tasks import services
from media_tasks.models import Asset
from media_tasks.processing import finalize, probe, thumbnails, transcode
from tests.e2e.test_upload_to_renditions import wait_for_job
from tests.media import make_sound, make_video, quiet_speech


def make_ready_video(
    user, path: Path, monkeypatch, *, tone: int = 440, duration: float = 1.5, size: tuple[int, int] = (854, 480)
) -> Asset:
    """Upload a clip (854×480 by default: two rungs, 480p and 360p) and run every stage here, as a worker would."""
    return _made_here(user, make_video(path, width=size[0], height=size[1], duration=duration, tone=tone), monkeypatch)


def make_ready_sound(user, path: Path, monkeypatch, *, duration: float = 6.0, cover: bool = True) -> Asset:
    """A sound alone (the format its suffix names; a voice that swells and fades, with cover art)
    uploaded and made ready here."""
    swells = quiet_speech(duration).replace("apulsator=hz=0.5", "tremolo=f=0.7:d=0.95")  # a shape to draw
    return _made_here(user, make_sound(path, sound=swells, cover=cover), monkeypatch)


def _made_here(user, clip: Path, monkeypatch) -> Asset:
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)  # no broker: stages run below
    with clip.open("rb") as fh:
        job = services.asset_create(owner=user, fileobj=fh, filename=clip.name, size_bytes=clip.stat().st_size).job
    assert probe.job_probe(job_id=job.id, worker="t") in ("video", "audio")
    assert transcode.job_transcode(job_id=job.id, worker="t")
    assert thumbnails.job_make_thumbnails(job_id=job.id, worker="t")
    assert finalize.job_finalize(job_id=job.id, worker="t")
    return Asset.objects.get(pk=job.asset_id)


def api_upload_ready(base_url: str, token: str, clip: Path, worker) -> dict:
    """Upload `clip` through the API, wait (bounded) for the real `worker` to make it ready, and
    return the asset's JSON as an API client sees it."""
    auth = {"Authorization": f"Bearer {token}"}
    with clip.open("rb") as fh:
        accepted = requests.post(f"{base_url}/api/v1/assets", files={"file": fh}, headers=auth, timeout=60)
    assert accepted.status_code == 202, accepted.text
    job, _ = wait_for_job(accepted.json()["job_id"], worker)
    assert job.status == "succeeded", job.error
    return requests.get(f"{base_url}/api/v1/assets/{job.asset_id}", headers=auth, timeout=30).json()


def hls_link(asset_json: dict) -> str:
    (hls,) = [r for r in asset_json["renditions"] if r["kind"] == "hls"]
    return hls["url"]


def probe_url(url: str, *extra: str) -> dict:
    """ffprobe's JSON for a URL (no cookie, no header: the URL alone); {} where it read nothing."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *extra, url], capture_output=True, text=True, timeout=120
    )
    return json.loads(done.stdout or "{}") | ({"stderr": done.stderr} if done.returncode else {})


def variant_urls(master_url: str) -> list[str]:
    """The variant playlists a master names, resolved against the master's URL as a player does."""
    text = requests.get(master_url, timeout=30).text
    return [urljoin(master_url, line) for line in text.splitlines() if line and not line.startswith("#")]


def decoded_frames(variant_url: str) -> tuple[int, int, int]:
    """(width, height, frames decoded) of a variant's video, every segment read and decoded."""
    info = probe_url(
        variant_url, "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=width,height,nb_read_frames"
    )
    streams = info.get("streams") or [{}]
    return streams[0].get("width", 0), streams[0].get("height", 0), int(streams[0].get("nb_read_frames", 0))


def segment_frames(variant_url: str, segment_url: str, scratch: Path) -> int:
    """Frames decoded from one fMP4 media segment a playlist names, read with its init segment (the
    EXT-X-MAP) as a player reads it: a segment alone has no codec headers."""
    text = requests.get(variant_url, timeout=30).text
    init = next(
        line.split('URI="', 1)[1].split('"', 1)[0] for line in text.splitlines() if line.startswith("#EXT-X-MAP")
    )
    joined = scratch / "segment.mp4"
    parts = (requests.get(urljoin(variant_url, init), timeout=30), requests.get(segment_url, timeout=30))
    assert all(part.status_code == 200 for part in parts), [part.status_code for part in parts]
    joined.write_bytes(b"".join(part.content for part in parts))
    return decoded_frames(str(joined))[2]


def assert_plays(master_url: str, expected: dict[str, tuple[int, int]]) -> dict[str, int]:
    """ffprobe reads every variant of the master and decodes each one whole; returns frames per variant."""
    master = probe_url(master_url, "-show_programs", "-show_streams")
    programs, streams = master.get("programs", []), master.get("streams", [])
    assert len(streams) >= len(expected) and len(programs) == len(expected), (
        f"ffprobe read {len(streams)} streams in {len(programs)} programs: {master.get('stderr', '')[-600:]}"
    )
    variants = variant_urls(master_url)
    assert len(variants) == len(expected), variants
    frames = {}
    for url in variants:
        width, height, count = decoded_frames(url)
        profile = next(name for name in expected if f"/{name}-" in url or f"/{name}/" in url)
        assert (width, height) == expected[profile], (url, width, height)
        assert count > 0, f"no frame decoded from {url}"
        frames[profile] = count
    return frames
