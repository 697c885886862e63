"""The owner's poster through the API and a real worker on the real broker (issue 28): the frame at
a picked time, then an uploaded picture, each becomes the poster within seconds; S3 storage."""

import io

import pytest
from PIL import Image

from media_tasks import storage
from media_tasks.models import Rendition
from tests.conftest import fail_with_worker_log, wait_until
from tests.media import make_exif_rotated_jpeg
from tests.playback import make_ready_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _poster_key(asset) -> str:
    return Rendition.objects.get(asset=asset, kind=Rendition.Kind.POSTER).storage_key


def test_a_worker_makes_the_picked_frame_then_the_uploaded_picture_the_poster(
    celery_worker, s3_storage, api, user, monkeypatch, tmp_path
):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=4)
    url = f"/api/v1/assets/{asset.id}"
    assert api.patch(url, {"poster_time": 2.5}, content_type="application/json").status_code == 200
    try:
        wait_until(lambda: _poster_key(asset).endswith("/poster-at-2500ms.jpg"), 60, "the frame at 2.5 s as the poster")
    except pytest.fail.Exception:
        fail_with_worker_log("the poster task did not run", celery_worker)
    with Image.open(io.BytesIO(storage.read_bytes(_poster_key(asset)))) as im:
        assert im.format == "JPEG" and im.size == (854, 480)

    photo = make_exif_rotated_jpeg(tmp_path / "photo.jpg", width=1600, height=1200, orientation=6)
    with photo.open("rb") as fh:
        assert api.post(f"{url}/poster", {"image": fh}).status_code == 202
    wait_until(lambda: "/poster-upload-" in _poster_key(asset), 60, "the uploaded picture as the poster")
    with Image.open(io.BytesIO(storage.read_bytes(_poster_key(asset)))) as im:
        assert im.format == "JPEG" and im.size == (960, 1280)
    assert not storage.exists(f"thumbs/{asset.id}/poster-at-2500ms.jpg"), "the owner's previous poster is removed"
    names = [r["profile"] for r in api.get(url).json()["renditions"] if r["kind"] == "poster"]
    assert names == ["poster"]
