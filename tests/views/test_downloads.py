"""A rung's download link gives the MP4 its plan describes, put together from the stored stream
files as it is sent, on the filesystem and on S3 (no redirect: one presigned URL cannot join
several objects): the whole file, or the byte range asked for (206) so that players seek."""

from __future__ import annotations

import json

import pytest
from django.core import signing
from django.urls import reverse

from media_tasks import presenters, services, storage
from media_tasks.views import downloads
from tests.cmaf_media import PLAN, Tracks, make_tracks, store_download
from tests.views.test_assets import upload_file

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tracks(tmp_path_factory) -> Tracks:
    return make_tracks(tmp_path_factory.mktemp("streams"), duration=4.0)


@pytest.fixture(params=["fs_storage", "s3_storage"])
def stored(request, tracks, user, monkeypatch, tmp_path):
    """An asset titled "My trip" whose streams and download plan are stored; the MP4 expected."""
    request.getfixturevalue(request.param)
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    asset = services.asset_create(owner=user, fileobj=upload_file(), filename="trip.mp4", size_bytes=4108).job.asset
    asset.title = "My trip"
    asset.save(update_fields=["title"])
    plan, expected = store_download(asset.id, tracks, tmp_path)
    return asset, plan, expected


def signed_link(asset) -> str:
    """The link presenters.download_url makes for a file it does not presign."""
    token = signing.dumps({"a": str(asset.id), "n": f"hls/{PLAN}"}, salt=presenters.links.DOWNLOAD_SALT)
    return reverse("file_signed", args=[token])


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_signed_download_is_the_whole_mp4_under_the_title(client, stored, tracks, monkeypatch):
    asset, plan, expected = stored
    reads = []
    real = storage.read_range_chunks
    monkeypatch.setattr(storage, "read_range_chunks", lambda key, *a: reads.append(key) or real(key, *a))

    response = client.get(signed_link(asset))

    assert response.status_code == 200, response.content[:200]
    assert body(response) == expected
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Length"] == str(len(expected))
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Disposition"] == 'attachment; filename="My trip-180p.mp4"'
    # one read per stored file (the picture's one file, each sound segment), never one per fragment
    files = {(p.stream_dir, p.file) for p in plan.pieces}
    assert len(reads) == len(set(reads)) == len(files) == 1 + len(tracks.audio.fragments)


@pytest.mark.parametrize("span", ["0-99", "4000-250000", "-1000", "123456-", "0-"])
def test_a_range_gets_206_with_that_slice(client, stored, span):
    asset, _, expected = stored
    response = client.get(signed_link(asset), HTTP_RANGE=f"bytes={span}")

    first, _, last = span.partition("-")
    if not first:
        first, last = len(expected) - int(last), ""
    start, end = int(first), min(int(last), len(expected) - 1) if last else len(expected) - 1
    if (start, end) == (0, len(expected) - 1):
        assert response.status_code == 200
    else:
        assert response.status_code == 206
        assert response["Content-Range"] == f"bytes {start}-{end}/{len(expected)}"
    assert response["Content-Length"] == str(end - start + 1)
    assert body(response) == expected[start : end + 1]


def test_an_unsatisfiable_range_or_a_stale_if_range(client, stored):
    asset, _, expected = stored
    response = client.get(signed_link(asset), HTTP_RANGE=f"bytes={len(expected)}-")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{len(expected)}"
    whole = client.get(signed_link(asset), HTTP_RANGE="bytes=10-20", HTTP_IF_RANGE='"another-version"')
    assert whole.status_code == 200 and body(whole) == expected
    etag = whole["ETag"]
    part = client.get(signed_link(asset), HTTP_RANGE="bytes=10-20", HTTP_IF_RANGE=etag)
    assert part.status_code == 206 and body(part) == expected[10:21]


def test_the_owners_page_link_streams_it_too(alice_client, stored):
    asset, _, expected = stored
    response = alice_client.get(reverse("asset_file", args=[asset.id, f"hls/{PLAN}"]), HTTP_RANGE="bytes=100-")
    assert response.status_code == 206 and body(response) == expected[100:]


def test_only_a_streams_download_json_is_a_plan():
    assert downloads.is_download_plan(f"hls/{'0' * 32}/video/720p-h264/download.json")
    assert downloads.is_download_plan(f"hls/{'0' * 32}/audio/128k-aac/download.json"), "a sound alone's M4A"
    for key in ("hls/x/audio/128k-aac/index.m3u8", "renditions/x/download.json", "hls/x/download.json"):
        assert not downloads.is_download_plan(key), key


def test_a_plan_naming_another_assets_files_is_refused(client, stored, tmp_path):
    asset, _, _ = stored
    plan = json.loads(storage.read_bytes(storage.asset_key(storage.HLS, asset.id, PLAN)))
    plan["pieces"][0][0] = "../../originals"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(plan))
    storage.replace_file(path, storage.asset_key(storage.HLS, asset.id, PLAN))
    with pytest.raises(ValueError, match="not a stream"):  # a 500 before a byte is sent
        client.get(signed_link(asset))


def test_a_missing_plan_is_404(client, stored):
    asset, _, _ = stored
    storage.delete_key(storage.asset_key(storage.HLS, asset.id, PLAN))
    assert client.get(signed_link(asset)).status_code == 404
