"""Audio-only uploads (issue 31), from outside: a WAV and an MP3 with cover art, uploaded through the
API and made by a real worker on RabbitMQ and S3 (moto_server), play from `playback_url` and the
DASH link with no cookie, download as an M4A, last as long as their source, sound at the loudness
target (this test's own ebur128), and have a waveform for a poster and the MP3's cover art."""

from __future__ import annotations

import io
import time

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from media_tasks import services, storage
from media_tasks.models import Job
from media_tasks.processing.streams import rendition_fetch
from tests.conftest import wait_until
from tests.e2e.test_cancel import ffmpeg_processes_for
from tests.e2e.test_faults import job_in, successes_logged
from tests.e2e.test_upload_to_renditions import post, wait_for_job
from tests.media import ffprobe, loudness, make_sound, quiet_speech
from tests.playback import api_upload_ready, probe_url
from tests.tcp_proxy import TcpProxy

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
    _captioned(live_server.url, token, asset)


def _captioned(base: str, token: str, asset: dict) -> None:
    """A transcript as a caption track: named by the sound's master, its cue served with no cookie."""
    auth = {"Authorization": f"Bearer {token}"}
    srt = b"1\n00:00:01,000 --> 00:00:02,000\nWelcome to the show\n"
    added = requests.post(
        f"{base}/api/v1/assets/{asset['id']}/captions",
        files={"file": ("show.srt", srt)},
        data={"language": "en", "label": "Transcript"},
        headers=auth,
        timeout=30,
    )
    assert added.status_code == 201, added.text
    master = requests.get(asset["playback_url"], timeout=30).text
    assert 'TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="Transcript"' in master
    assert "Welcome to the show" in requests.get(added.json()["url"], timeout=30).text


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


def test_a_sound_rides_out_a_worker_killed_mid_encode_and_a_storage_outage_mid_store(
    without_session_worker, start_worker, alice_client, s3_storage, s3_server, tmp_path
):
    """Interrupted in the middle, as a video is in test_faults: the whole worker SIGKILLed while
    its sound encodes, then S3 out of reach for 20 s (longer than a try's own retries) while the
    next try works. The job ends once, whole: as long as its source, at the target."""
    seconds = 480.0
    src = make_sound(tmp_path / "long.mp3", sound=quiet_speech(seconds))
    proxy = TcpProxy(int(s3_server.rsplit(":", 1)[1])).start()
    try:
        worker = start_worker("sound-faults", concurrency=1, s3_endpoint=proxy.url)
        job_id = post(alice_client, src)["job_id"]
        wait_until(lambda: job_in(job_id, "transcoding", 6, below=50), 120, "the sound's encode")
        worker.kill()  # ffmpeg dies with it (PR_SET_PDEATHSIG)
        worker.start()
        wait_until(lambda: job_in(job_id, "transcoding", 6), 120, "the encode started again")
        proxy.stop()
        time.sleep(20)
        proxy.start()
        job, _ = wait_for_job(job_id, worker, timeout=600)
    finally:
        proxy.stop()
    assert job.status == "succeeded", job.error
    assert job.events.filter(message__contains="started again").exists()
    assert successes_logged(worker.log_path)[str(job.id)] == 1, "finished once"
    kinds = sorted(job.asset.renditions.values_list("kind", flat=True))
    assert kinds == ["audio", "dash", "hls", "m4a", "poster"], "each once"
    path = rendition_fetch(job.asset.renditions.get(kind="audio"), tmp_path / "sound.mp4")
    assert float(ffprobe(path)["format"]["duration"]) == pytest.approx(seconds, abs=0.2)
    integrated, peak = loudness(path)
    assert abs(integrated - job.loudness["target_lufs"]) <= 1.0 and peak <= -1.0


def test_cancelling_a_sound_mid_encode_stops_its_ffmpeg_and_removes_what_was_published(
    celery_worker, s3_storage, user, client, tmp_path
):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {services.api_token_create(owner=user, name='stop').plaintext}"
    src = make_sound(tmp_path / "long.mp3", sound=quiet_speech(480.0))
    created = client.post("/api/v1/assets", {"file": SimpleUploadedFile("long.mp3", src.read_bytes())}).json()
    job_id = created["job_id"]
    wait_until(
        lambda: ffmpeg_processes_for(job_id) and Job.objects.get(pk=job_id).playable_at, 120, "the published encode"
    )
    assert client.post(f"/api/v1/assets/{created['asset_id']}/cancel").status_code == 200
    wait_until(lambda: not ffmpeg_processes_for(job_id), 10, "ffmpeg to stop after the cancel")
    job = Job.objects.get(pk=job_id)
    assert job.status == Job.Status.CANCELLED and not job.asset.renditions.exists()
    master = storage.asset_key(storage.HLS, job.asset_id, "master.m3u8")
    wait_until(lambda: not storage.exists(master), 30, "the early HLS to be removed")
