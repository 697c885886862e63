"""The API's HLS link plays with no cookie on S3 (moto_server): uploaded through the API,
processed by a real worker over RabbitMQ, then read by ffprobe from the link alone.

Playlists come through the web (their relative names stay under the signed path); each
segment is a redirect to a presigned GET, which ffprobe follows as hls.js and Safari do.
"""

import pytest
import requests

from media_tasks import services
from media_tasks.models import Job
from tests.e2e.test_upload_to_renditions import wait_for_job
from tests.media import make_video
from tests.playback import assert_plays, hls_link

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def token(user) -> str:
    return services.api_token_create(owner=user, name="player").plaintext


def test_the_apis_hls_link_plays_from_s3_with_no_cookie(celery_worker, s3_storage, live_server, token, tmp_path):
    clip = make_video(tmp_path / "walk.mp4", width=854, height=480, duration=2.0, tone=611)
    auth = {"Authorization": f"Bearer {token}"}
    with clip.open("rb") as fh:
        accepted = requests.post(f"{live_server.url}/api/v1/assets", files={"file": fh}, headers=auth, timeout=60)
    assert accepted.status_code == 202, accepted.text
    job, _ = wait_for_job(accepted.json()["job_id"], celery_worker)
    assert job.status == Job.Status.SUCCEEDED, job.error
    data = requests.get(f"{live_server.url}/api/v1/assets/{job.asset_id}", headers=auth, timeout=30).json()
    link = hls_link(data)
    frames = assert_plays(link, {"480p": (854, 480), "360p": (640, 360)})
    print(f"\nS3 playback: frames decoded per variant from the API's link: {frames}")
    assert link.startswith(live_server.url), link
    segment = requests.get(link.replace("master.m3u8", "360p/seg_00000.ts"), allow_redirects=False, timeout=30)
    assert segment.status_code == 302 and "X-Amz-Signature=" in segment.headers["Location"]
    assert segment.headers["Access-Control-Allow-Origin"] == "*"
