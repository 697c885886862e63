"""Playable in seconds (issue 21): a video plays from the API's link while its ladder is still
being made. Uploaded through the API, processed by a real worker over RabbitMQ on moto S3, read
by ffprobe from the link alone (no cookie), early and at the end."""

import time
from urllib.parse import urljoin

import pytest
import requests

from media_tasks import services
from media_tasks.models import Job, JobEvent, Rendition
from tests.e2e.test_upload_to_renditions import wait_for_job
from tests.media import make_video
from tests.playback import assert_plays, decoded_frames, segment_frames, variant_urls

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LADDER = {"720p": (1280, 720), "480p": (854, 480), "360p": (640, 360)}
SECONDS = 20.0
CHUNKED = {"MEDIA_CHUNK_THRESHOLD_S": "6", "MEDIA_CHUNK_SECONDS": "4"}


@pytest.fixture
def auth(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.api_token_create(owner=user, name='player').plaintext}"}


def upload(live_server, auth, clip) -> dict:
    with clip.open("rb") as fh:
        accepted = requests.post(f"{live_server.url}/api/v1/assets", files={"file": fh}, headers=auth, timeout=600)
    assert accepted.status_code == 202, accepted.text
    return accepted.json()


def wait_playable(live_server, auth, asset_id: str, timeout: float = 180) -> dict:
    """Poll the API (as a client would) until the asset says it is playable."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = requests.get(f"{live_server.url}/api/v1/assets/{asset_id}", headers=auth, timeout=30).json()
        if data["playable"]:
            return data
        assert data["status"] not in ("failed", "cancelled"), data
        time.sleep(0.1)
    pytest.fail(f"asset {asset_id} not playable within {timeout}s")


def segment_urls(variant_url: str) -> tuple[str, list[str]]:
    text = requests.get(variant_url, timeout=30).text
    return text, [urljoin(variant_url, line) for line in text.splitlines() if line and not line.startswith("#")]


def test_a_clip_plays_from_the_api_link_before_it_is_ready(celery_worker, s3_storage, live_server, auth, tmp_path):
    clip = make_video(tmp_path / "walk.mp4", width=1280, height=720, duration=SECONDS, noise=True)
    accepted = upload(live_server, auth, clip)
    early = wait_playable(live_server, auth, accepted["asset_id"])
    assert early["status"] == "transcoding" and early["playable_at"], early
    assert early["playback_url"] and early["playback_url"].startswith(live_server.url)
    # What a player loads at that moment: every segment named is stored and decodes.
    variants = variant_urls(early["playback_url"])
    assert variants and any("/video/360p-h264/" in url for url in variants), variants
    for variant in variants:
        text, segments = segment_urls(variant)
        assert segments, text
        for url in segments:
            assert segment_frames(variant, url, tmp_path) > 0, url
    print(f"\nplayable while transcoding: {len(variants)} variants, {len(segments)} segments of the last")

    job, _ = wait_for_job(accepted["job_id"], celery_worker)
    assert job.status == Job.Status.SUCCEEDED, job.error
    types = [e.type for e in job.events.all()]
    assert types.count(JobEvent.Type.PLAYABLE) == 1 and types.index(JobEvent.Type.PLAYABLE) < types.index(
        JobEvent.Type.SUCCEEDED
    ), types
    final = requests.get(f"{live_server.url}/api/v1/assets/{job.asset_id}", headers=auth, timeout=30).json()
    assert final["playable"] and final["playable_at"] == early["playable_at"]
    frames = assert_plays(final["playback_url"], LADDER)
    assert all(count == pytest.approx(SECONDS * 30, abs=2) for count in frames.values()), frames
    for variant in variant_urls(final["playback_url"]):
        text, _ = segment_urls(variant)
        assert "#EXT-X-ENDLIST" in text and "#EXT-X-PLAYLIST-TYPE:VOD" in text, text


def test_a_worker_killed_right_after_playable_still_completes_whole(
    without_session_worker, start_worker, s3_storage, live_server, auth, tmp_path
):
    worker = start_worker("killed", concurrency=1)
    clip = make_video(tmp_path / "run.mp4", width=1280, height=720, duration=SECONDS, noise=True)
    accepted = upload(live_server, auth, clip)
    wait_playable(live_server, auth, accepted["asset_id"])
    worker.kill()
    assert Job.objects.get(pk=accepted["job_id"]).status == Job.Status.TRANSCODING
    rescuer = start_worker("rescuer", concurrency=1)
    job, _ = wait_for_job(accepted["job_id"], rescuer, timeout=300)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert [e.type for e in job.events.all()].count(JobEvent.Type.PLAYABLE) == 1
    data = requests.get(f"{live_server.url}/api/v1/assets/{job.asset_id}", headers=auth, timeout=30).json()
    frames = assert_plays(data["playback_url"], LADDER)
    assert all(count == pytest.approx(SECONDS * 30, abs=2) for count in frames.values()), frames
    for variant in variant_urls(data["playback_url"]):
        text, _ = segment_urls(variant)
        assert "#EXT-X-ENDLIST" in text and "#EXT-X-PLAYLIST-TYPE:VOD" in text, text


def test_the_first_quality_is_whole_while_the_others_encode(celery_worker, s3_storage, live_server, auth, tmp_path):
    """A viewer who starts at once must not catch up with the encode: the rung a player starts on
    is made ahead of the others, and is whole (#EXT-X-ENDLIST) while the job still transcodes."""
    clip = make_video(tmp_path / "bike.mp4", width=1280, height=720, duration=SECONDS, noise=True, tone=660)
    accepted = upload(live_server, auth, clip)
    data = wait_playable(live_server, auth, accepted["asset_id"])
    whole_early: list[str] = []
    while data["status"] == "transcoding" and not whole_early:
        variants = variant_urls(data["playback_url"])
        assert variants == [urljoin(data["playback_url"], "video/360p-h264/index.m3u8")], variants  # the lead alone
        text, segments = segment_urls(variants[0])
        if "#EXT-X-ENDLIST" in text:
            whole_early = segments
        time.sleep(0.2)
        data = requests.get(f"{live_server.url}/api/v1/assets/{accepted['asset_id']}", headers=auth, timeout=30).json()
    assert whole_early, f"the first quality was not whole before the job left transcoding ({data['status']})"
    _, _, frames = decoded_frames(urljoin(data["playback_url"], "video/360p-h264/index.m3u8"))
    assert frames == pytest.approx(SECONDS * 30, abs=2)
    job, _ = wait_for_job(accepted["job_id"], celery_worker)
    assert job.status == Job.Status.SUCCEEDED, job.error
    final = requests.get(f"{live_server.url}/api/v1/assets/{job.asset_id}", headers=auth, timeout=30).json()
    assert_plays(final["playback_url"], LADDER)


def test_a_chunked_source_plays_from_its_lead_before_the_join(
    without_session_worker, start_worker, s3_storage, live_server, auth, tmp_path
):
    """A long source is cut into chunks for the workers; its lead rung is encoded whole beside
    them and plays before any chunk is joined. The joined ladder then plays in full."""
    worker = start_worker("chunked-lead", concurrency=2, **CHUNKED)
    clip = make_video(tmp_path / "long.mp4", width=1280, height=720, duration=12.0, tone=311)
    accepted = upload(live_server, auth, clip)
    early = wait_playable(live_server, auth, accepted["asset_id"])
    recorded = Rendition.objects.filter(asset_id=accepted["asset_id"], kind=Rendition.Kind.MP4).count()
    assert early["status"] == "transcoding" and recorded == 0, (early["status"], recorded)
    variants = variant_urls(early["playback_url"])
    assert variants == [urljoin(early["playback_url"], "video/360p-h264/index.m3u8")], variants
    _, segments = segment_urls(variants[0])
    assert segments and all(segment_frames(variants[0], url, tmp_path) > 0 for url in segments[:2])
    job, _ = wait_for_job(accepted["job_id"], worker, timeout=240)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert any("in 3 chunks" in m for m in job.events.values_list("message", flat=True))
    final = requests.get(f"{live_server.url}/api/v1/assets/{job.asset_id}", headers=auth, timeout=30).json()
    frames = assert_plays(final["playback_url"], LADDER)
    assert all(count == 360 for count in frames.values()), frames
    for variant in variant_urls(final["playback_url"]):
        text, _ = segment_urls(variant)
        assert "#EXT-X-ENDLIST" in text and "#EXT-X-PLAYLIST-TYPE:VOD" in text, text
