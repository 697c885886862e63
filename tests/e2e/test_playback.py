"""The API's HLS link plays with no cookie on S3 (moto_server): uploaded through the API,
processed by a real worker over RabbitMQ, then read by ffprobe from the link alone.

Playlists come through the web (their relative names stay under the signed path); each
segment is a redirect to a presigned GET, which ffprobe follows as hls.js and Safari do.
"""

import pytest
import requests

from media_tasks import services
from tests.media import make_video
from tests.playback import api_upload_ready, assert_plays, hls_link

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def token(user) -> str:
    return services.api_token_create(owner=user, name="player").plaintext


def test_the_apis_hls_link_plays_from_s3_with_no_cookie(celery_worker, s3_storage, live_server, token, tmp_path):
    clip = make_video(tmp_path / "walk.mp4", width=854, height=480, duration=2.0, tone=611)
    data = api_upload_ready(live_server.url, token, clip, celery_worker)
    link = hls_link(data)
    frames = assert_plays(link, {"480p": (854, 480), "360p": (640, 360)})
    print(f"\nS3 playback: frames decoded per variant from the API's link: {frames}")
    assert link.startswith(live_server.url), link
    segment = requests.get(
        link.replace("master.m3u8", "video/360p-h264/seg_00000.m4s"), allow_redirects=False, timeout=30
    )
    assert segment.status_code == 302 and "X-Amz-Signature=" in segment.headers["Location"]
    assert segment.headers["Access-Control-Allow-Origin"] == "*"
