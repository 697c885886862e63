"""Audio-only uploads (issue 31), from outside: a WAV and an MP3 with cover art, uploaded through the
API and made by a real worker on RabbitMQ and S3 (moto_server), play from `playback_url` and the
DASH link with no cookie, download as an M4A, last as long as their source, sound at the loudness
target (this test's own ebur128), and have a waveform for a poster and the MP3's cover art."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image

from media_tasks.models import Job
from tests.e2e.test_upload_to_renditions import wait_for_job
from tests.media import loudness, make_sound, quiet_speech
from tests.playback import api_upload_ready, probe_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECONDS = 12.0


def _only_sound(url: str) -> float:
    """The duration of what a player reads at `url` (no cookie), which must be one AAC sound."""
    played = probe_url(url, "-show_streams", "-show_format")
    assert [s["codec_name"] for s in played.get("streams", [])] == ["aac"], played
    return float(played["format"]["duration"])


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_a_wav_and_an_mp3_become_playable_audio_with_the_right_duration(
    fmt, celery_worker, s3_storage, live_server, token, tmp_path
):
    src = make_sound(tmp_path / f"talk.{fmt}", sound=quiet_speech(SECONDS), cover=fmt == "mp3")
    asset = api_upload_ready(live_server.url, token, src, celery_worker)
    assert asset["kind"] == "audio" and asset["playable"]
    by_kind = {r["kind"]: r for r in asset["renditions"]}
    assert {"hls", "dash", "audio", "m4a", "poster"} <= set(by_kind) and "mp4" not in by_kind
    assert ("cover" in by_kind) == (fmt == "mp3")
    for url in (asset["playback_url"], asset["dash_url"]):
        assert _only_sound(url) == pytest.approx(SECONDS, abs=0.15), url

    download = requests.get(by_kind["m4a"]["url"], timeout=60)
    assert download.status_code == 200 and download.headers["Content-Type"] == "audio/mp4"
    assert 'talk-128k.m4a"' in download.headers["Content-Disposition"]
    m4a = tmp_path / "download.m4a"
    m4a.write_bytes(download.content)
    assert _only_sound(str(m4a)) == pytest.approx(SECONDS, abs=0.15)

    for played in (asset["playback_url"], str(m4a)):
        integrated, peak = loudness(played)
        assert abs(integrated - asset["loudness"]["target_lufs"]) <= 1.0 and peak <= -1.0, (played, integrated, peak)
    assert asset["loudness"]["integrated_lufs"] < -35  # the quiet source, raised

    poster = Image.open(io.BytesIO(requests.get(by_kind["poster"]["url"], timeout=30).content))
    assert (poster.format, poster.size) == ("PNG", (1280, 360))
    if fmt == "mp3":
        cover = Image.open(io.BytesIO(requests.get(by_kind["cover"]["url"], timeout=30).content))
        assert (cover.format, cover.size) == ("JPEG", (600, 600))
    job = Job.objects.get(pk=asset["job_id"])
    assert job.playable_at is not None and job.playable_at <= job.finished_at
    assert [e.message for e in job.events.all() if e.message.startswith("Loudness: ")]


def test_a_sound_alone_can_be_re_uploaded_as_a_duplicate_and_a_fake_one_fails_with_its_reason(
    celery_worker, s3_storage, live_server, token, tmp_path
):
    auth = {"Authorization": f"Bearer {token}"}
    src = make_sound(tmp_path / "tone.flac", duration=3.0)
    first = api_upload_ready(live_server.url, token, src, celery_worker)
    with src.open("rb") as fh:
        again = requests.post(f"{live_server.url}/api/v1/assets", files={"file": fh}, headers=auth, timeout=60)
    assert again.status_code == 200 and again.json()["duplicate"], again.text
    assert str(again.json()["asset_id"]) == first["id"]
    fake = tmp_path / "song.mp3"
    fake.write_text("not a sound at all\n" * 100)
    with fake.open("rb") as fh:
        accepted = requests.post(f"{live_server.url}/api/v1/assets", files={"file": fh}, headers=auth, timeout=60)
    job, _ = wait_for_job(accepted.json()["job_id"], celery_worker)
    assert job.status == "failed" and "not a video, sound or image we can read" in job.error
