"""VMAF per rendition (issue 30), checked from outside: a real upload through the API, processed by
a real worker on RabbitMQ and S3 (moto_server), reports `vmaf` on every video rung after it is
ready; each figure agrees, within 3 points, with this test's own measurement of the files the
API's links give (no cookie): libvmaf over every frame, the rung scaled bicubic to the source's
size, by the static ffmpeg of imageio-ffmpeg (the system's has no libvmaf)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.conftest import wait_until
from tests.media import make_video, vmaf_every_frame
from tests.playback import api_upload_ready

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT, SECONDS = 854, 480, 4.0  # two rungs: 480p at the source's size, 360p scaled up
AGREE_WITHIN = 3.0


def download(url: str, dest: Path) -> Path:
    got = requests.get(url, timeout=60)  # the link alone: no cookie, no token
    assert got.status_code == 200, (url, got.status_code)
    dest.write_bytes(got.content)
    return dest


def test_every_video_rendition_reports_a_vmaf_that_an_outside_measurement_agrees_with(
    celery_worker, s3_storage, live_server, token, tmp_path
):
    clip = make_video(tmp_path / "grain.mp4", width=WIDTH, height=HEIGHT, duration=SECONDS, tone=733, noise=True)
    ready = api_upload_ready(live_server.url, token, clip, celery_worker)
    url = f"{live_server.url}/api/v1/assets/{ready['id']}"

    def measured() -> dict | None:
        data = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        rungs = [r for r in data["renditions"] if r["kind"] == "mp4"]
        return data if rungs and all(r["vmaf"] is not None for r in rungs) else None

    data = wait_until(measured, 240, "VMAF on every video rendition", interval=1.0)
    source = download(data["original_url"], tmp_path / "original.mp4")
    rungs = {r["profile"]: r for r in data["renditions"] if r["kind"] == "mp4"}
    assert sorted(rungs) == ["360p", "480p"]
    ours = {
        profile: vmaf_every_frame(
            download(r["url"], tmp_path / f"{profile}.mp4"), source, tmp_path / f"{profile}.json", (WIDTH, HEIGHT)
        )
        for profile, r in rungs.items()
    }
    reported = {profile: r["vmaf"] for profile, r in rungs.items()}
    print(f"\nVMAF reported by the platform {reported}, measured here over every frame {ours}")
    for profile, score in reported.items():
        assert 0 < score <= 100 and abs(score - ours[profile]) <= AGREE_WITHIN, (profile, score, ours[profile])
