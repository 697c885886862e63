"""Loudness (issue 31), checked from outside: a quiet video (-42 LUFS) uploaded through the API and
made by a real worker on RabbitMQ and S3 (moto_server) plays at the target from every link the API
gives (the HLS master and each MP4 download, no cookie), within 1 LU and with true peaks at or
under -1 dBTP, as this test's own ebur128 measures them; the asset JSON says what was found and
done. A chunked source levels its lead's sound as well; `off` keeps the source's level."""

from __future__ import annotations

import pytest

from media_tasks.models import Job
from tests.e2e.test_chunked import CHUNKED
from tests.media import loudness, make_video, quiet_speech
from tests.playback import api_upload_ready, hls_link

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TARGET = -16.0


def _played(asset: dict) -> dict[str, tuple[float, float]]:
    """(LUFS, dBTP) of the sound at every link a client is given: the master and each download."""
    links = {"hls": hls_link(asset), **{r["profile"]: r["url"] for r in asset["renditions"] if r["kind"] == "mp4"}}
    return {name: loudness(url) for name, url in links.items()}


def test_a_quiet_video_plays_at_the_target_from_every_link_and_says_so(
    celery_worker, s3_storage, live_server, token, tmp_path
):
    clip = make_video(tmp_path / "quiet.mp4", width=854, height=480, duration=6.0, sound=quiet_speech(6.0))
    source_lufs, source_peak = loudness(clip)
    assert source_lufs < -40
    asset = api_upload_ready(live_server.url, token, clip, celery_worker)
    played = _played(asset)
    print(f"\nsource {source_lufs} LUFS; played {played}; reported {asset['loudness']}")
    assert sorted(played) == ["360p", "480p", "hls"]
    for name, (integrated, peak) in played.items():
        assert abs(integrated - TARGET) <= 1.0 and peak <= -1.0, (name, integrated, peak)
    reported = asset["loudness"]
    assert reported["integrated_lufs"] == pytest.approx(source_lufs, abs=0.3)
    assert reported["true_peak_dbtp"] == pytest.approx(source_peak, abs=0.3)
    assert reported["target_lufs"] == TARGET and reported["gain_db"] > 20
    assert reported["output"]["integrated_lufs"] == pytest.approx(played["hls"][0], abs=0.3)
    job = Job.objects.get(pk=asset["job_id"])
    assert any(m.startswith("Loudness: -42") for m in job.events.values_list("message", flat=True))


@pytest.mark.parametrize(("target", "env"), [("-23", CHUNKED), ("off", {})], ids=["chunked-23", "off"])
def test_the_target_is_a_setting_a_chunked_source_meets_and_off_keeps_the_sources_level(
    target, env, without_session_worker, start_worker, live_server, token, s3_storage, tmp_path
):
    worker = start_worker(f"loud{target}", concurrency=1, MEDIA_LOUDNESS_TARGET_LUFS=target, **env)
    clip = make_video(tmp_path / "quiet.mp4", width=854, height=480, duration=10.0, sound=quiet_speech(10.0, tone=247))
    source_lufs, _ = loudness(clip)
    asset = api_upload_ready(live_server.url, token, clip, worker)
    job = Job.objects.get(pk=asset["job_id"])
    if env:
        assert job.events.filter(message__contains="chunks across the workers").exists(), "encoded in chunks"
    played = _played(asset)
    expected = source_lufs if target == "off" else float(target)
    for name, (integrated, peak) in played.items():
        assert abs(integrated - expected) <= 1.0 and peak <= -1.0, (name, integrated, peak)
    assert asset["loudness"]["integrated_lufs"] == pytest.approx(source_lufs, abs=0.3)
    assert asset["loudness"]["target_lufs"] == (None if target == "off" else float(target))
