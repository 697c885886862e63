"""A poster the owner picks (issue 28): the frame at any moment (PATCH `poster_time`) or a
picture they upload (POST /assets/{id}/poster). The API checks and queues; the worker's task makes
it, and the `poster` rendition is then that file."""

import io

import pytest
from PIL import Image, ImageStat

from media_tasks import storage
from media_tasks.models import Rendition
from media_tasks.processing import posters
from media_tasks.services.posters import poster_due
from tests.media import make_exif_rotated_jpeg
from tests.playback import make_ready_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued():
    """What the API asked the workers for (the real receiver still publishes it)."""
    asked: list[dict] = []

    def note(sender, **kwargs):
        asked.append({k: v for k, v in kwargs.items() if k != "signal"})

    poster_due.connect(note)
    yield asked
    poster_due.disconnect(note)


@pytest.fixture
def video(user, fs_storage, monkeypatch, tmp_path):
    return make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=4)


def _poster(asset) -> Rendition:
    return asset.renditions.get(kind=Rendition.Kind.POSTER)


def test_the_frame_at_a_picked_time_becomes_the_poster(api, video, queued):
    before = _poster(video).storage_key
    answer = api.patch(f"/api/v1/assets/{video.id}", {"poster_time": 2.5}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert queued == [{"asset_id": video.id, "at": 2.5}]
    assert posters.asset_poster_from_time(asset_id=video.id, at=2.5, worker="w1")  # what the task runs
    poster = _poster(video)
    assert poster.storage_key == f"thumbs/{video.id}/poster-at-2500ms.jpg" != before
    with Image.open(io.BytesIO(storage.read_bytes(poster.storage_key))) as im:
        assert im.format == "JPEG" and im.size == (poster.width, poster.height) == (854, 480)
    assert api.get(f"/api/v1/assets/{video.id}").json()["poster_frame"] is None, "no longer one of the frames"


@pytest.mark.parametrize("at", ["-1", "4.5", '"soon"', "NaN", "1e400"])
def test_a_time_outside_the_video_is_refused_naming_the_field(api, video, queued, at):
    body = f'{{"poster_time": {at}}}'
    answer = api.patch(f"/api/v1/assets/{video.id}", body, content_type="application/json")
    assert answer.status_code in (400, 422) and "poster_time" in answer.content.decode(), answer.content
    assert queued == []


def test_an_uploaded_picture_becomes_the_poster(api, video, queued, tmp_path):
    photo = make_exif_rotated_jpeg(tmp_path / "photo.jpg", width=1600, height=1200, orientation=6)
    with photo.open("rb") as fh:
        answer = api.post(f"/api/v1/assets/{video.id}/poster", {"image": fh})
    assert answer.status_code == 202, answer.content
    ((asked),) = queued
    assert asked["key"].startswith(f"thumbs/{video.id}/poster-upload-")
    assert posters.asset_poster_from_upload(asset_id=video.id, key=asked["key"], worker="w1")
    poster = _poster(video)
    with Image.open(io.BytesIO(storage.read_bytes(poster.storage_key))) as im:
        assert im.format == "JPEG" and im.size == (960, 1280), "upright, as the photo is seen"
        assert ImageStat.Stat(im.crop((0, 0, 100, 100))).mean[0] < 100, "the top left is blue once turned"
    assert not storage.exists(asked["key"]), "the upload itself is not kept"


def test_a_file_that_is_not_a_picture_or_too_large_is_refused_naming_the_field(api, video, queued, settings):
    answer = api.post(f"/api/v1/assets/{video.id}/poster", {"image": io.BytesIO(b"#!/bin/sh\necho hi\n")})
    assert answer.status_code == 422 and "image" in answer.content.decode(), answer.content
    settings.MEDIA_MAX_PIXELS = 100
    big = io.BytesIO()
    Image.new("RGB", (20, 20)).save(big, "PNG")
    big.seek(0)
    big.name = "big.png"
    answer = api.post(f"/api/v1/assets/{video.id}/poster", {"image": big})
    assert answer.status_code == 422 and "pixels" in answer.content.decode(), answer.content
    assert queued == []


def test_another_user_gets_404_and_nothing_is_queued(other_api, video, queued):
    url = f"/api/v1/assets/{video.id}"
    assert other_api.patch(url, {"poster_time": 1.0}, content_type="application/json").status_code == 404
    pic = io.BytesIO()
    Image.new("RGB", (8, 8)).save(pic, "PNG")
    pic.seek(0)
    pic.name = "p.png"
    assert other_api.post(f"{url}/poster", {"image": pic}).status_code == 404
    assert queued == []


def test_choosing_one_of_the_frames_again_removes_the_owners_own_poster_file(api, video, queued):
    assert posters.asset_poster_from_time(asset_id=video.id, at=1.0, worker="w1")
    own = _poster(video).storage_key
    assert storage.exists(own)
    answer = api.patch(f"/api/v1/assets/{video.id}", {"poster": "frame-10"}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["poster_frame"] == "frame-10"
    assert not storage.exists(own), "nothing points at it any more"
