"""`dash_url` in the asset JSON: null until the MPD is recorded (at ready), then a link signed like
`playback_url` that serves the MPD as application/dash+xml to a client with no cookie."""

import io

import pytest
from django.test import Client

from media_tasks import presenters, storage
from media_tasks.models import Job, Rendition
from media_tasks.pipeline.identity import MPD
from tests.factories import video_with_frame

pytestmark = pytest.mark.django_db

MANIFEST = b'<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"/>\n'


@pytest.fixture
def video(user, fs_storage, monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    return video_with_frame(owner=user, job_status=Job.Status.TRANSCODING)


def record_mpd(asset) -> None:
    """What the worker does at ready: the MPD stored at the top of the stream area, and its row."""
    key = storage.asset_key(storage.HLS, asset.id, MPD)
    storage.save_stream(key, io.BytesIO(MANIFEST))
    Rendition.objects.create(
        asset=asset, kind=Rendition.Kind.DASH, profile="manifest", width=0, height=0, storage_key=key
    )
    Job.objects.filter(asset=asset).update(status=Job.Status.SUCCEEDED)


def test_dash_url_is_null_until_the_mpd_is_recorded_then_plays_with_no_cookie(api, video):
    before = api.get(f"/api/v1/assets/{video.id}").json()
    assert before["dash_url"] is None
    record_mpd(video)
    after = api.get(f"/api/v1/assets/{video.id}").json()
    url = after["dash_url"]
    assert url.startswith("http://testserver/play/") and url.endswith(f"/{MPD}"), url
    # Signed as the HLS link is: the same token, another name under it.
    assert presenters.links.playback_key(token=url.rsplit("/", 2)[1], name=MPD).name == f"hls/{video.id}/{MPD}"
    (row,) = [r for r in after["renditions"] if r["kind"] == "dash"]
    assert row["url"] == url

    anonymous = Client().get(url.removeprefix("http://testserver"))
    assert anonymous.status_code == 200
    assert anonymous["Content-Type"] == "application/dash+xml"
    assert anonymous["Access-Control-Allow-Origin"] == "*"  # a player on any site
    assert anonymous.content == MANIFEST  # served here, not redirected: its relative names stay under the link


def test_a_forged_dash_link_is_refused(api, video):
    record_mpd(video)
    url = api.get(f"/api/v1/assets/{video.id}").json()["dash_url"].removeprefix("http://testserver")
    prefix, token, name = url.rsplit("/", 2)
    assert Client().get(f"{prefix}/{token[:-2]}xx/{name}").status_code == 404


def test_the_schema_documents_dash_url(api):
    schema = api.get("/api/v1/openapi.json").json()
    field = schema["components"]["schemas"]["AssetOut"]["properties"]["dash_url"]
    assert "MPD" in field["description"] and "no cookie" in field["description"]
