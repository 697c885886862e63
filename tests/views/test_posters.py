"""The poster chooser on an item's page (issue 28): besides the encode's frames, the frame at a
moment the owner types, or a picture they upload. The page checks and queues; the worker makes it."""

import io
import re

import pytest
from django.urls import reverse
from PIL import Image

from media_tasks.models import Rendition
from media_tasks.processing import posters
from tests.api.test_posters import queued  # noqa: F401 - a fixture
from tests.playback import make_ready_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(user, fs_storage, monkeypatch, tmp_path):
    return make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=4)


def _png() -> io.BytesIO:
    pic = io.BytesIO()
    Image.new("RGB", (320, 200), (200, 30, 30)).save(pic, "PNG")
    pic.seek(0)
    pic.name = "cover.png"
    return pic


def test_the_page_offers_a_time_and_an_upload_inside_the_poster_chooser(alice_client, video):
    page = alice_client.get(reverse("asset_detail", args=[video.id])).content.decode()
    chooser = page[page.index('id="poster"') :]
    assert re.search(r'<input[^>]*name="poster_time"', chooser) and 'for="id_poster_time"' in chooser
    assert re.search(r'<input[^>]*type="file"[^>]*name="image"', chooser)
    assert 'enctype="multipart/form-data"' in chooser


def test_a_time_typed_as_minutes_and_seconds_becomes_the_poster(alice_client, video, queued):  # noqa: F811
    answer = alice_client.post(reverse("asset_poster_time", args=[video.id]), {"poster_time": "0:02.5"}, follow=True)
    assert answer.status_code == 200 and "The frame at 0:02 is being taken" in answer.content.decode()
    assert queued == [{"asset_id": video.id, "at": 2.5}]
    assert posters.asset_poster_from_time(asset_id=video.id, at=2.5, worker="w1")
    page = alice_client.get(reverse("asset_detail", args=[video.id])).content.decode()
    assert re.search(r'<video id="player"[^>]*poster="[^"]*poster-at-2500ms\.jpg"', page)
    own = re.search(r'<p id="poster-own"[^>]*>(.*?)</p>', page, re.S)
    assert own and "poster-at-2500ms.jpg" in own.group(1) and "The poster now: the frame you picked." in own.group(1)


@pytest.mark.parametrize(("typed", "why"), [("soon", "minutes:seconds"), ("0:09", "between 0 and 4.0 s"), ("", "")])
def test_a_time_that_is_not_one_is_refused_on_the_page(alice_client, video, queued, typed, why):  # noqa: F811
    answer = alice_client.post(reverse("asset_poster_time", args=[video.id]), {"poster_time": typed})
    assert answer.status_code == 400
    error = re.search(r'id="poster-error">([^<]*)<', answer.content.decode())
    assert error and error.group(1).startswith("Time:") and why in error.group(1), error
    assert queued == []


def test_an_uploaded_picture_is_queued_and_a_text_file_refused(alice_client, video, queued):  # noqa: F811
    answer = alice_client.post(reverse("asset_poster_image", args=[video.id]), {"image": _png()}, follow=True)
    assert answer.status_code == 200 and "Your picture is being made the poster" in answer.content.decode()
    ((asked),) = queued
    assert posters.asset_poster_from_upload(asset_id=video.id, key=asked["key"], worker="w1")
    poster = video.renditions.get(kind=Rendition.Kind.POSTER)
    assert (poster.width, poster.height) == (320, 200) and poster.storage_key.endswith(".jpg")
    text = io.BytesIO(b"hello")
    text.name = "notes.png"
    refused = alice_client.post(reverse("asset_poster_image", args=[video.id]), {"image": text})
    assert refused.status_code == 400 and "Picture: The file is not a JPEG, PNG" in refused.content.decode()
    assert len(queued) == 1


def test_another_user_gets_404_and_nothing_is_queued(client, other_user, video, queued):  # noqa: F811
    client.force_login(other_user)
    assert client.post(reverse("asset_poster_time", args=[video.id]), {"poster_time": "1"}).status_code == 404
    assert client.post(reverse("asset_poster_image", args=[video.id]), {"image": _png()}).status_code == 404
    assert queued == []
