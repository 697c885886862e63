import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from media_tasks import services, storage
from media_tasks.models import Asset, Job, Rendition
from media_tasks.processing import transitions

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """View tests check the HTTP contract; the e2e tests run the real queue."""
    calls: list = []
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: calls.append(job_id))
    return calls


def upload_file(name="clip.mp4", content=b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4096):
    return SimpleUploadedFile(name, content, content_type="video/mp4")


def test_pages_need_sign_in(client):
    for name in ("asset_upload", "asset_list"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_api_client_gets_401_json_not_a_login_page(client):
    response = client.post(reverse("asset_upload"), {"file": upload_file()}, HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_form_upload_redirects_to_status_page(alice_client, fs_storage, no_broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("asset_upload"), {"file": upload_file()})
    asset = Asset.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("asset_detail", args=[asset.id])
    assert no_broker == [asset.jobs.get().id]
    page = alice_client.get(response["Location"])
    assert page.status_code == 200
    assert b'id="job-progress"' in page.content and b"Queued" in page.content


def test_json_upload_is_accepted_with_ids_and_status_url(alice_client, fs_storage):
    response = alice_client.post(
        reverse("asset_upload"),
        {"file": upload_file()},
        HTTP_ACCEPT="application/json",
        HTTP_X_CORRELATION_ID="req-123",
    )
    assert response.status_code == 202
    body = response.json()
    job = Job.objects.get(pk=body["job_id"])
    assert body["asset_id"] == str(job.asset_id) and body["status"] == "queued"
    assert body["correlation_id"] == job.correlation_id == "req-123"
    assert body["status_url"] == f"http://testserver/api/v1/assets/{body['asset_id']}"  # as the API answers
    status = alice_client.get(reverse("asset_status", args=[body["asset_id"]]), HTTP_ACCEPT="application/json")
    assert status.status_code == 200
    body_status = status.json()
    assert [(e["type"], e["message"]) for e in body_status["events"]] == [("queued", "Uploaded; waiting for a worker.")]
    assert body_status | {"updated_at": None, "events": None} == {
        "asset_id": body["asset_id"],
        "job_id": body["job_id"],
        "status": "queued",
        "stage": "Queued",
        "waiting_for": None,
        "progress": 0,
        "error": None,
        "is_final": False,
        "playable": False,  # a video's HLS plays from its first segments, before it is ready
        "playable_at": None,
        "playback_url": None,
        "kind": None,
        "updated_at": None,
        "events": None,
        "renditions": [],
        "ladder": {},  # the ladder is chosen when the transcode starts
        "loudness": None,  # measured beside the lead's encode
    }


def test_empty_and_missing_files_get_clear_errors(alice_client, fs_storage):
    response = alice_client.post(
        reverse("asset_upload"), {"file": upload_file(content=b"")}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert "empty" in json.dumps(response.json()["error"]["fields"]["file"])
    response = alice_client.post(reverse("asset_upload"), {}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]
    assert not Asset.objects.exists()


def test_size_limit_is_enforced_with_a_message(alice_client, fs_storage, settings):
    settings.MEDIA_MAX_UPLOAD_BYTES = 1000
    response = alice_client.post(reverse("asset_upload"), {"file": upload_file()})
    assert response.status_code == 400
    assert b"the limit is 1000" in response.content
    assert not Asset.objects.exists()


def test_other_users_get_404_everywhere(client, user, other_user, fs_storage):
    job = services.asset_create(owner=user, fileobj=upload_file(), filename="a.mp4", size_bytes=4108).job
    client.force_login(other_user)
    for url in (
        reverse("asset_detail", args=[job.asset_id]),
        reverse("asset_status", args=[job.asset_id]),
        reverse("asset_file", args=[job.asset_id, "originals/source"]),
    ):
        assert client.get(url).status_code == 404, url
    assert job.asset_id not in [c["id"] for c in client.get(reverse("asset_list")).context["cards"]]


def make_rendition(asset, area="renditions", name="360p.mp4", content=b"fake-mp4-bytes"):
    key = storage.asset_key(area, asset.id, name)
    storage.get_storage().save(key, ContentFile(content))
    return Rendition.objects.create(
        asset=asset, kind="mp4", profile=name.split(".")[0], width=640, height=360, storage_key=key
    )


def test_file_view_streams_from_filesystem_and_refuses_odd_names(alice_client, user, fs_storage):
    job = services.asset_create(owner=user, fileobj=upload_file(), filename="a.mp4", size_bytes=4108).job
    make_rendition(job.asset)
    response = alice_client.get(reverse("asset_file", args=[job.asset_id, "renditions/360p.mp4"]))
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == b"fake-mp4-bytes"
    for bad in ("renditions/../originals/source", "secrets/x", "renditions/missing.mp4", "renditions/a/b/c"):
        assert alice_client.get(reverse("asset_file", args=[job.asset_id, bad])).status_code == 404, bad


def test_file_view_redirects_to_a_short_lived_presigned_url_on_s3(alice_client, user, s3_storage):
    job = services.asset_create(owner=user, fileobj=upload_file(), filename="a.mp4", size_bytes=4108).job
    make_rendition(job.asset)
    response = alice_client.get(reverse("asset_file", args=[job.asset_id, "renditions/360p.mp4"]))
    assert response.status_code == 302
    assert "X-Amz-Signature=" in response["Location"] and "X-Amz-Expires=300" in response["Location"]
    make_rendition(job.asset, area="thumbs", name="sprite.vtt", content=b"WEBVTT\n")
    vtt = alice_client.get(reverse("asset_file", args=[job.asset_id, "thumbs/sprite.vtt"]))
    assert vtt.status_code == 200 and b"".join(vtt.streaming_content) == b"WEBVTT\n"


def test_failed_job_shows_its_reason(alice_client, user, fs_storage):
    job = services.asset_create(owner=user, fileobj=upload_file(), filename="a.mp4", size_bytes=4108).job
    transitions.job_mark_failed(job_id=job.id, reason="The file is not a video, sound or image we can read.")
    page = alice_client.get(reverse("asset_detail", args=[job.asset_id]))
    assert b"The file is not a video, sound or image we can read." in page.content
    assert b"hx-trigger" not in page.content  # an ended job is not polled


def test_presigned_urls_use_the_public_endpoint_when_set(alice_client, user, s3_storage, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "public": {
            **settings.STORAGES["default"],
            "OPTIONS": {**settings.STORAGES["default"]["OPTIONS"], "endpoint_url": "http://localhost:9999"},
        },
    }
    job = services.asset_create(owner=user, fileobj=upload_file(), filename="a.mp4", size_bytes=4108).job
    make_rendition(job.asset)
    response = alice_client.get(reverse("asset_file", args=[job.asset_id, "renditions/360p.mp4"]))
    assert response["Location"].startswith("http://localhost:9999/")


def test_file_view_answers_byte_ranges_so_video_can_seek(alice_client, user, fs_storage):
    job = services.asset_create(owner=user, fileobj=upload_file(), filename="a.mp4", size_bytes=4108).job
    make_rendition(job.asset, content=b"0123456789abcd")
    url = reverse("asset_file", args=[job.asset_id, "renditions/360p.mp4"])

    def get(range_header):
        response = alice_client.get(url, HTTP_RANGE=range_header)
        return response, b"".join(response.streaming_content) if response.streaming else response.content

    whole, body = get("")
    assert (whole.status_code, whole["Accept-Ranges"], body) == (200, "bytes", b"0123456789abcd")
    for header, expected, content_range in (
        ("bytes=0-3", b"0123", "bytes 0-3/14"),
        ("bytes=10-", b"abcd", "bytes 10-13/14"),
        ("bytes=-3", b"bcd", "bytes 11-13/14"),
        ("bytes=12-99", b"cd", "bytes 12-13/14"),
    ):
        response, body = get(header)
        assert (response.status_code, body, response["Content-Range"]) == (206, expected, content_range), header
        assert response["Content-Length"] == str(len(expected))
    refused, _ = get("bytes=14-20")
    assert refused.status_code == 416 and refused["Content-Range"] == "bytes */14"
    several, body = get("bytes=0-1,4-5")  # several ranges: the whole file, which RFC 9110 allows
    assert several.status_code == 200 and body == b"0123456789abcd"
