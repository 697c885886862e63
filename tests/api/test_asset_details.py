"""An item's own data (issue 22): title, description and alt text through the API, and
download names built from the title instead of `<uuid>-720p.mp4`."""

import pytest
import requests

from media_tasks.models import TITLE_MAX, Asset
from tests.api.test_assets import create, png
from tests.playback import make_ready_video

pytestmark = pytest.mark.django_db


def test_an_asset_is_titled_by_its_file_name_until_its_owner_names_it(api, fs_storage):
    asset_id = create(api, png((7, 7, 7)), name="landscape_1080p.png").json()["asset_id"]
    url = f"/api/v1/assets/{asset_id}"
    assert api.get(url).json()["title"] == "landscape_1080p.png"
    changed = api.patch(
        url, {"title": "  Lake at dawn\n", "description": "From the north shore."}, content_type="application/json"
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["title"], body["description"], body["filename"]) == (
        "Lake at dawn",
        "From the north shore.",
        "landscape_1080p.png",
    )
    assert api.get("/api/v1/assets").json()["items"][0]["title"] == "Lake at dawn"
    # Only what is sent changes; an empty title shows the file name again.
    api.patch(url, {"alt_text": "A lake under a pink sky"}, content_type="application/json")
    assert Asset.objects.get(pk=asset_id).description == "From the north shore."
    cleared = api.patch(url, {"title": ""}, content_type="application/json").json()
    assert cleared["title"] == "landscape_1080p.png" and cleared["alt_text"] == "A lake under a pink sky"


def test_a_title_too_long_is_refused_and_another_owner_gets_404(api, other_api, fs_storage):
    asset_id = create(api, png((8, 8, 8))).json()["asset_id"]
    url = f"/api/v1/assets/{asset_id}"
    refused = api.patch(url, {"title": "x" * (TITLE_MAX + 1)}, content_type="application/json")
    assert refused.status_code == 422 and "title" in refused.content.decode()
    assert other_api.patch(url, {"title": "mine now"}, content_type="application/json").status_code == 404
    assert Asset.objects.get(pk=asset_id).title == ""


def test_the_schema_documents_the_edit(api):
    schema = api.get("/api/v1/openapi.json").json()
    patch = schema["paths"]["/api/v1/assets/{asset_id}"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]
    assert {"title", "description", "alt_text", "shared", "poster"} <= set(
        schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["properties"]
    )
    # What an asset's status and kind can be is in the schema (enums), as the list's filter says it.
    components = schema["components"]["schemas"]
    for field, value in (("status", "succeeded"), ("kind", "video")):
        (ref,) = [r["$ref"] for r in components["AssetOut"]["properties"][field]["anyOf"] if "$ref" in r]
        assert value in components[ref.rsplit("/", 1)[1]]["enum"], field


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["fs_storage", "s3_storage"])
def test_downloads_are_named_after_the_title_and_the_original_keeps_its_own(
    request, backend, user, token, live_server, monkeypatch, tmp_path
):
    request.getfixturevalue(backend)
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, tone=523)
    auth = {"Authorization": f"Bearer {token}"}
    url = f"{live_server.url}/api/v1/assets/{asset.id}"
    body = requests.patch(url, json={"title": "Trip to Oslo"}, headers=auth, timeout=30).json()
    (mp4,) = [r for r in body["renditions"] if r["profile"] == "360p" and r["kind"] == "mp4"]
    saved = requests.get(mp4["url"], timeout=30)  # no cookie: the link alone
    assert (
        saved.status_code == 200
        and saved.headers["Content-Disposition"] == 'attachment; filename="Trip to Oslo-360p.mp4"'
    )
    original = requests.get(body["original_url"], timeout=30)
    assert original.headers["Content-Disposition"] == 'attachment; filename="clip.mp4"'
    assert original.content == (tmp_path / "clip.mp4").read_bytes()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["fs_storage", "s3_storage"])
def test_the_poster_is_chosen_from_the_frames_the_api_lists(
    request, backend, user, token, live_server, monkeypatch, tmp_path
):
    request.getfixturevalue(backend)
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    auth = {"Authorization": f"Bearer {token}"}
    url = f"{live_server.url}/api/v1/assets/{asset.id}"
    body = requests.get(url, headers=auth, timeout=30).json()
    frames = {r["profile"]: r for r in body["renditions"] if r["kind"] == "frame"}
    assert len(frames) >= 3 and body["poster_frame"] in frames
    other = next(name for name in frames if name != body["poster_frame"])
    changed = requests.patch(url, json={"poster": other}, headers=auth, timeout=30)
    assert changed.status_code == 200 and changed.json()["poster_frame"] == other
    (poster,) = [r for r in changed.json()["renditions"] if r["kind"] == "poster"]
    fetched = requests.get(poster["url"], timeout=30)  # the link alone, no cookie
    assert fetched.status_code == 200 and fetched.content == requests.get(frames[other]["url"], timeout=30).content
    refused = requests.patch(url, json={"poster": "frame-99"}, headers=auth, timeout=30)
    assert refused.status_code == 422 and "not one of this video's frames" in refused.json()["error"]["message"]


def test_a_patch_names_what_is_wrong_and_takes_nothing_it_does_not_know(api, fs_storage):
    asset_id = create(api, png((7, 7, 7)), name="photo.png").json()["asset_id"]
    url = f"/api/v1/assets/{asset_id}"

    def refused(body) -> dict:
        answer = api.patch(url, body, content_type="application/json")
        assert answer.status_code == 422, (body, answer.content)
        return answer.json()["error"]

    assert refused({"title": "x" * (TITLE_MAX + 1)})["fields"][0]["field"] == "title"  # not "changes.title"
    assert refused({"shared": "yes"})["fields"][0]["field"] == "shared"  # a boolean, not a word
    assert refused({"unknown": 1})["fields"][0]["field"] == "unknown"
    assert refused([])["code"] == "validation_error"
    assert "Only a video" in refused({"poster": "frame-10"})["message"]
    assert api.get(url).json()["share_url"] is None, "nothing was changed by the refused ones"
