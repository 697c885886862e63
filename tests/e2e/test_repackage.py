"""`manage.py repackage` moves a library made by today's code to the CMAF layout, on the
filesystem and on S3 (moto_server), judged through the API's links alone, with no cookie.

The library is built as the old code stored it (tests/legacy.py: the old ladder's tee; the
rows and keys of the old transcode.store_ladder): per rung `renditions/<a>/<rung>.mp4`, and
`hls/<a>/<rung>/index.m3u8` + MPEG-TS segments under a VERSION 3 `hls/<a>/master.m3u8`.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from django.core.management import CommandError, call_command
from django.utils import timezone

from media_tasks import services, storage
from media_tasks.models import Asset, Job, Rendition
from media_tasks.processing import probe
from tests.legacy import TINY_LADDER, encode_old_ladder
from tests.media import make_video
from tests.playback import probe_url, variant_urls

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DURATION = 4.0


@pytest.fixture(params=["filesystem", "s3"])
def backend(request):
    return request.getfixturevalue("fs_storage" if request.param == "filesystem" else "s3_storage")


@pytest.fixture
def token(user) -> str:
    return services.api_token_create(owner=user, name="player").plaintext


def old_asset(user, tmp_path: Path, monkeypatch, tone: int) -> Asset:
    """A video as the code before CMAF left it: probed, encoded by the old ladder, stored, recorded."""
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    clip = make_video(tmp_path / f"clip-{tone}.mp4", width=320, height=180, duration=DURATION, tone=tone)
    with clip.open("rb") as fh:
        job = services.asset_create(owner=user, fileobj=fh, filename=clip.name, size_bytes=clip.stat().st_size).job
    assert probe.job_probe(job_id=job.id, worker="t") == "video"
    mp4s = encode_old_ladder(clip, tmp_path / f"old-{tone}")
    keys = {rung: storage.asset_key(storage.RENDITIONS, job.asset_id, f"{rung}.mp4") for rung in mp4s}
    storage.upload_files({path: keys[rung] for rung, path in mp4s.items()})
    hls = tmp_path / f"old-{tone}" / "hls"
    storage.upload_files(storage.tree_keys(hls, storage.HLS, job.asset_id))
    for rung in TINY_LADDER:
        size = mp4s[rung.name].stat().st_size
        Rendition.objects.create(
            asset_id=job.asset_id,
            kind=Rendition.Kind.MP4,
            profile=rung.name,
            width=rung.width,
            height=rung.height,
            bitrate=int(size * 8 / DURATION),
            size_bytes=size,
            codec="avc1.64000d,mp4a.40.2",
            storage_key=keys[rung.name],
            encoder="libx264",
        )
    Rendition.objects.create(
        asset_id=job.asset_id,
        kind=Rendition.Kind.HLS,
        profile="master",
        width=320,
        height=180,
        storage_key=storage.asset_key(storage.HLS, job.asset_id, "master.m3u8"),
        encoder="libx264",
    )
    Job.objects.filter(pk=job.id).update(status=Job.Status.SUCCEEDED, progress=100, playable_at=timezone.now())
    return Asset.objects.get(pk=job.asset_id)


def stored(asset: Asset) -> dict[str, int]:
    """Every file the asset has in the renditions and HLS areas, with its size."""
    found: dict[str, int] = {}

    def walk(path: str) -> None:
        try:
            folders, files = storage.get_storage().listdir(path)
        except FileNotFoundError:
            return
        for name in files:
            found[f"{path}/{name}"] = storage.size(f"{path}/{name}")
        for folder in folders:
            walk(f"{path}/{folder}")

    for area in (storage.RENDITIONS, storage.HLS):
        walk(f"{area}/{asset.id}")
    return found


def repackage(**options) -> str:
    out = io.StringIO()
    call_command("repackage", stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


OLD_RUNG_DIR = re.compile(r"^hls/[^/]+/\d+p/")


def absolute(live_server, link: str) -> str:
    return link if link.startswith("http") else live_server.url + link


def api_asset(live_server, token: str, asset: Asset) -> dict:
    auth = {"Authorization": f"Bearer {token}"}
    response = requests.get(f"{live_server.url}/api/v1/assets/{asset.id}", headers=auth, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def assert_plays_whole(url: str) -> None:
    """ffprobe, from the URL alone, decodes picture and sound for the source's length."""
    info = probe_url(url, "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames:format=duration")
    kinds = {s["codec_type"] for s in info.get("streams", []) if int(s.get("nb_read_frames") or 0) > 0}
    assert kinds >= {"video", "audio"}, info
    assert float(info["format"]["duration"]) == pytest.approx(DURATION, abs=0.25), info["format"]


def test_a_library_made_by_todays_code_moves_and_plays(backend, live_server, user, token, tmp_path, monkeypatch):
    assets = [old_asset(user, tmp_path, monkeypatch, tone) for tone in (431, 587)]
    before = {a.id: stored(a) for a in assets}
    for asset in assets:
        assert_plays_whole(absolute(live_server, api_asset(live_server, token, asset)["playback_url"]))

    out = repackage(grace_s=0)
    assert "2 moved" in out and "0 failed" in out, out

    for asset in assets:
        url = absolute(live_server, api_asset(live_server, token, asset)["playback_url"])
        master = requests.get(url, timeout=30).text
        assert "#EXT-X-MEDIA:TYPE=AUDIO" in master and "video/" in master, master
        assert_plays_whole(url)
        after = stored(asset)
        assert not [k for k in after if k.startswith(f"{storage.RENDITIONS}/")], after
        assert not [k for k in after if OLD_RUNG_DIR.match(k)], after
        assert sum(after.values()) < sum(before[asset.id].values()) * 0.6, (before[asset.id], after)
    freed = int(out.split("Freed ", 1)[1].split(" ", 1)[0])
    old_bytes, new_bytes = sum(sum(b.values()) for b in before.values()), sum(sum(stored(a).values()) for a in assets)
    assert freed == old_bytes - new_bytes
    print(f"\nrepackage: {old_bytes} -> {new_bytes} bytes stored ({new_bytes / old_bytes:.2f}), freed {freed}")

    again = repackage(grace_s=0)
    assert "0 moved" in again and "2 already current" in again and "Freed 0 bytes" in again, again


def test_a_dry_run_stores_nothing_and_says_what_it_would_free(backend, user, tmp_path, monkeypatch):
    asset = old_asset(user, tmp_path, monkeypatch, 659)
    before = stored(asset)
    rows = list(asset.renditions.values_list("kind", "profile", "storage_key"))

    out = repackage(dry_run=True)

    would = int(out.split("Would free ", 1)[1].split(" ", 1)[0])
    assert 0 < would < sum(before.values())
    assert stored(asset) == before
    assert list(asset.renditions.values_list("kind", "profile", "storage_key")) == rows
    assert "1 would move" in out, out


def test_a_player_holding_the_old_links_keeps_playing_through_the_move(
    backend, live_server, user, token, tmp_path, monkeypatch
):
    """It loaded the old master and a variant before the move: during the grace period every
    old segment still comes (or the new master, for a new load); after it, the old files go."""
    asset = old_asset(user, tmp_path, monkeypatch, 733)
    master_url = absolute(live_server, api_asset(live_server, token, asset)["playback_url"])
    variants = variant_urls(master_url)
    segments = {v: variant_segments(v) for v in variants}

    out = repackage(grace_s=600, no_wait=True)
    assert "1 moved" in out and "old files kept" in out, out

    assert "video/" in requests.get(master_url, timeout=30).text  # a new load gets the new master
    assert_plays_whole(master_url)
    for variant, urls in segments.items():  # a switch of rung reloads its old playlist
        assert variant_segments(variant) == urls
        for url in urls:
            response = requests.get(url, timeout=30)
            assert response.status_code == 200 and response.content[:1] == b"G", url  # MPEG-TS sync byte

    done = repackage(grace_s=0)
    assert "1 moved before" in done and "old files deleted for 1" in done, done
    assert requests.get(segments[variants[0]][0], timeout=30).status_code == 404
    assert not [k for k in stored(asset) if k.startswith(f"{storage.RENDITIONS}/")]


def test_an_old_download_link_keeps_working_through_the_grace_period(
    backend, live_server, user, token, tmp_path, monkeypatch
):
    asset = old_asset(user, tmp_path, monkeypatch, 811)
    (top,) = [r for r in api_asset(live_server, token, asset)["renditions"] if r["profile"] == "180p"]
    link = absolute(live_server, top["url"])
    assert requests.get(link, timeout=30).status_code == 200

    repackage(grace_s=600, no_wait=True)

    response = requests.get(link, timeout=30)
    assert response.status_code == 200 and b"ftyp" in response.content[:16]


def variant_segments(variant_url: str) -> list[str]:
    text = requests.get(variant_url, timeout=30).text
    return [urljoin(variant_url, line) for line in text.splitlines() if line and not line.startswith("#")]


def test_one_assets_failure_is_reported_and_the_others_move(fs_storage, user, tmp_path, monkeypatch):
    broken, fine = (old_asset(user, tmp_path, monkeypatch, tone) for tone in (877, 929))
    storage.delete_key(storage.asset_key(storage.RENDITIONS, broken.id, "144p.mp4"))
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError, match="1 assets failed"):
        call_command("repackage", grace_s=0, stdout=out, stderr=err)

    assert f"{broken.id}: not moved" in err.getvalue()
    assert "1 moved" in out.getvalue() and "1 failed" in out.getvalue(), out.getvalue()
    assert not broken.renditions.exclude(kind=Rendition.Kind.HLS).exclude(storage_key__startswith="renditions/")
    assert not fine.renditions.filter(storage_key__startswith="renditions/")


def test_a_run_waits_out_the_grace_period_then_deletes(fs_storage, user, tmp_path, monkeypatch):
    asset = old_asset(user, tmp_path, monkeypatch, 983)
    started = time.monotonic()

    out = repackage(grace_s=2)

    assert "waiting" in out and "1 moved" in out and "old files deleted for 1" in out, out
    assert time.monotonic() - started >= 2
    assert not [k for k in stored(asset) if k.startswith(f"{storage.RENDITIONS}/") or OLD_RUNG_DIR.match(k)]
