"""Caption tracks (issue 31) through the API: POST /assets/{id}/captions (SRT or WebVTT, a BCP 47
language, a label), GET to list, DELETE …/captions/{language}; named by the master and the MPD the
API's links serve, and played from them with no cookie."""

from urllib.parse import urljoin, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from media_tasks import storage
from media_tasks.models import CaptionTrack
from tests.playback import make_ready_video

pytestmark = pytest.mark.django_db

SRT = "1\n00:00:00,500 --> 00:00:01,200\nHello, <i>world</i>\n\n2\n00:00:01,300 --> 00:00:01,450\nBye\n"


@pytest.fixture
def video(user, fs_storage, monkeypatch, tmp_path):
    return make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)


def _add(api, video, body: str | bytes, language: str = "en-GB", label: str = "English", name: str = "en.srt"):
    data = body.encode() if isinstance(body, str) else body
    upload = SimpleUploadedFile(name, data, content_type="application/x-subrip")
    return api.post(f"/api/v1/assets/{video.id}/captions", {"file": upload, "language": language, "label": label})


def _unsigned(url: str) -> str:
    """A playback link without its signed token (`/play/<token>/<name>`)."""
    head, _, rest = url.partition("/play/")
    return head + "/play/" + rest.split("/", 1)[1]


def _get(url: str) -> str:
    """What a player with no cookie and no token reads at `url`."""
    answer = Client().get(urlsplit(url).path)
    assert answer.status_code == 200, (url, answer.status_code)
    assert answer["Access-Control-Allow-Origin"] == "*"
    return answer.content.decode()


def test_a_track_is_stored_as_webvtt_and_named_by_the_master_and_the_mpd(api, video, fs_storage):
    answer = _add(api, video, SRT, language="en_gb")
    assert answer.status_code == 201, answer.content
    track = answer.json()
    assert (track["language"], track["label"], track["cues"]) == ("en-GB", "English", 2)
    assert _get(track["url"]).startswith("WEBVTT\n\n00:00:00.500 --> 00:00:01.200\nHello, <i>world</i>\n")

    asset = api.get(f"/api/v1/assets/{video.id}").json()
    assert [c["language"] for c in asset["captions"]] == ["en-GB"]
    master = _get(asset["playback_url"])
    (media,) = [line for line in master.splitlines() if line.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES")]
    assert 'LANGUAGE="en-GB",NAME="English"' in media
    assert all(line.endswith('SUBTITLES="subs"') for line in master.splitlines() if "STREAM-INF" in line)
    playlist_url = urljoin(asset["playback_url"], media.split('URI="')[1].rstrip('"'))
    (segment,) = [line for line in _get(playlist_url).splitlines() if line.endswith(".vtt")]
    assert "Hello, <i>world</i>" in _get(urljoin(playlist_url, segment))
    mpd = _get(asset["dash_url"])
    assert 'contentType="text"' in mpd and 'lang="en-GB"' in mpd and "<Label>English</Label>" in mpd

    # The same track, its link signed anew: a request a second later gets a later timestamp in it.
    (listed,) = api.get(f"/api/v1/assets/{video.id}/captions").json()
    assert {**listed, "url": None} == {**track, "url": None}
    assert _unsigned(listed["url"]) == _unsigned(track["url"]) and _get(listed["url"]) == _get(track["url"])
    assert api.delete(f"/api/v1/assets/{video.id}/captions/en-GB").status_code == 204
    assert "SUBTITLES" not in _get(asset["playback_url"]) and 'contentType="text"' not in _get(asset["dash_url"])
    assert not list((fs_storage / "hls" / str(video.id) / "captions").iterdir()), "its files are deleted"
    assert api.delete(f"/api/v1/assets/{video.id}/captions/en-GB").status_code == 404


def test_a_second_track_in_a_language_replaces_the_first_and_its_files(api, video, fs_storage):
    assert _add(api, video, SRT).status_code == 201
    assert _add(api, video, SRT.replace("Bye", "Goodbye"), label="UK").status_code == 201
    (track,) = CaptionTrack.objects.filter(asset=video)
    assert track.label == "UK"
    assert sorted(p.suffix for p in (fs_storage / "hls" / str(video.id) / "captions").iterdir()) == [".m3u8", ".vtt"]


@pytest.mark.parametrize(
    ("body", "language", "field", "message"),
    [
        (SRT.replace("00:00:01,300 --> ", "00:00:01,300 -> "), "en", "file", "Line 6: expected a cue's timing"),
        (SRT.replace("world", "wörld").encode("latin-1"), "en", "file", "must be UTF-8 text; byte 0xF6"),
        (SRT, "xx", "language", "'xx' is not a language code (BCP 47)"),
        (b"", "en", "file", "Send the SRT or WebVTT file as the multipart field `file`"),
        # Over 2 MB: the file is at fault, whatever the language.
        (SRT.encode() * 30_000, "xx", "file", "the limit is 2.0\xa0MB"),
    ],
)
def test_a_bad_file_or_language_is_refused_with_where_and_nothing_is_stored(
    api, video, fs_storage, body, language, field, message
):
    answer = _add(api, video, body, language=language)
    assert answer.status_code == 422, answer.content
    error = answer.json()["error"]
    said = [error["message"], *(f["message"] for f in error["fields"])]
    assert any(message in text for text in said) and [f["field"] for f in error["fields"]] == [field], error
    assert not CaptionTrack.objects.exists()
    assert not (fs_storage / "hls" / str(video.id) / "captions").exists()


def test_another_users_video_has_no_captions_to_add_list_or_delete(video, other_api):
    assert _add(other_api, video, SRT).status_code == 404
    assert other_api.get(f"/api/v1/assets/{video.id}/captions").status_code == 404
    assert other_api.delete(f"/api/v1/assets/{video.id}/captions/en").status_code == 404


def test_on_s3_the_track_plays_from_the_links_and_its_files_go_with_it(api, user, s3_storage, monkeypatch, tmp_path):
    video = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    track = _add(api, video, SRT, language="fr").json()
    asset = api.get(f"/api/v1/assets/{video.id}").json()
    assert 'LANGUAGE="fr"' in _get(asset["playback_url"])
    assert "Hello, <i>world</i>" in _get(track["url"])
    (row,) = CaptionTrack.objects.filter(asset=video)
    assert storage.exists(row.storage_key)
    assert api.delete(f"/api/v1/assets/{video.id}/captions/fr").status_code == 204
    assert not storage.exists(row.storage_key) and not storage.exists(row.storage_key.replace(".vtt", ".m3u8"))


def test_deleting_the_video_deletes_its_tracks_and_their_files(api, video, fs_storage):
    assert _add(api, video, SRT).status_code == 201
    assert api.delete(f"/api/v1/assets/{video.id}").status_code == 204
    assert not CaptionTrack.objects.exists()
    assert not (fs_storage / "hls" / str(video.id)).exists()
