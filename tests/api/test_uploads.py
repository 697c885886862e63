"""The direct-upload protocol on both storage backends: start, part URLs, resume, complete, abort."""

import hashlib
import os

import pytest
import requests

from media_tasks.models import Asset, Upload

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
URL = "/api/v1/uploads"


def start(api, size: int, name: str = "clip.mp4", **headers) -> dict:
    response = api.post(URL, {"filename": name, "size": size}, content_type="application/json", **headers)
    assert response.status_code == 201, response.content
    return response.json()


def test_filesystem_upload_in_parts_resumes_and_completes(api, fs_storage):
    data = os.urandom(5 * MiB + 123)
    parts = [data[: 3 * MiB], data[3 * MiB :]]
    upload = start(api, len(data))
    assert upload["multipart"] is False
    target = api.post(f"{URL}/{upload['upload_id']}/parts/1/url").json()
    assert target["method"] == "PUT" and target["url"].endswith(f"{upload['upload_id']}/parts/1")
    put = api.put(target["url"], parts[0], content_type="application/octet-stream")
    assert put.status_code == 200, put.content
    assert put["ETag"] == f'"{hashlib.md5(parts[0], usedforsecurity=False).hexdigest()}"'
    # Resume: the server lists what it has, the client sends the rest.
    listed = api.get(f"{URL}/{upload['upload_id']}/parts").json()
    assert listed == [{"part_number": 1, "size": 3 * MiB, "etag": put["ETag"]}]
    api.put(f"{URL}/{upload['upload_id']}/parts/2", parts[1], content_type="application/octet-stream")
    done = api.post(f"{URL}/{upload['upload_id']}/complete", {"parts": []}, content_type="application/json")
    assert done.status_code == 202, done.content
    body = done.json()
    assert body["asset_id"] == upload["upload_id"] and body["status"] == "queued"
    asset = Asset.objects.get(pk=body["asset_id"])
    assert asset.size_bytes == len(data) and asset.sha256 == hashlib.sha256(data).hexdigest()
    assert (fs_storage / asset.original_key).read_bytes() == data
    assert not (fs_storage / "uploads" / upload["upload_id"]).exists() or not any(
        (fs_storage / "uploads" / upload["upload_id"]).iterdir()
    )
    # Completing again (a retry that lost its answer) returns the same asset.
    again = api.post(f"{URL}/{upload['upload_id']}/complete", {"parts": []}, content_type="application/json")
    assert again.status_code == 202 and again.json()["job_id"] == body["job_id"]


def test_s3_upload_goes_to_presigned_urls_and_resumes(api, s3_storage):
    data = os.urandom(5 * MiB + 7)
    upload = start(api, len(data))
    assert upload["multipart"] is True
    first = api.post(f"{URL}/{upload['upload_id']}/parts/1/url?size={5 * MiB}").json()
    assert "X-Amz-Signature" in first["url"] and first["expires_in"] <= 600
    etag1 = requests.put(first["url"], data=data[: 5 * MiB], timeout=30).headers["ETag"]
    listed = api.get(f"{URL}/{upload['upload_id']}/parts").json()
    assert [(p["part_number"], p["etag"]) for p in listed] == [(1, etag1)]
    second = api.post(f"{URL}/{upload['upload_id']}/parts/2/url?size=7").json()
    etag2 = requests.put(second["url"], data=data[5 * MiB :], timeout=30).headers["ETag"]
    done = api.post(
        f"{URL}/{upload['upload_id']}/complete",
        {"parts": [{"part_number": 1, "etag": etag1}, {"part_number": 2, "etag": etag2}]},
        content_type="application/json",
    )
    assert done.status_code == 202, done.content
    stored = s3_storage.get_object(Bucket=s3_storage.bucket, Key=Asset.objects.get().original_key)["Body"].read()
    assert stored == data


def test_abort_drops_the_parts(api, s3_storage):
    upload = start(api, 10)
    target = api.post(f"{URL}/{upload['upload_id']}/parts/1/url?size=10").json()
    requests.put(target["url"], data=b"0123456789", timeout=30)
    assert api.delete(f"{URL}/{upload['upload_id']}").status_code == 204
    assert Upload.objects.get().status == Upload.Status.ABORTED
    left = s3_storage.list_multipart_uploads(Bucket=s3_storage.bucket).get("Uploads", [])
    assert not [u for u in left if u["Key"] == upload["key"]]  # the bucket is shared by the session's tests
    refused = api.post(f"{URL}/{upload['upload_id']}/parts/2/url?size=10")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "upload_closed"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"filename": "a.mp4", "size": 0}, 422, "validation_error"),
        ({"filename": "a.mp4"}, 422, "validation_error"),
        ({"filename": "a.mp4", "size": 10**13}, 413, "too_large"),
    ],
)
def test_bad_starts_are_refused_with_json_errors(api, fs_storage, body, status, code):
    response = api.post(URL, body, content_type="application/json")
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if code == "validation_error":
        assert {f["field"] for f in error["fields"]} & {"size", "body.size"}


def test_too_big_after_upload_is_refused_and_deleted(api, fs_storage, settings):
    upload = start(api, 20)
    api.put(f"{URL}/{upload['upload_id']}/parts/1", b"x" * 20, content_type="application/octet-stream")
    settings.MEDIA_MAX_UPLOAD_BYTES = 15
    done = api.post(f"{URL}/{upload['upload_id']}/complete", {"parts": []}, content_type="application/json")
    assert done.status_code == 413 and "limit" in done.json()["error"]["message"]
    assert not Asset.objects.exists()
    assert not (fs_storage / "originals" / upload["upload_id"] / "source").exists()


def test_idempotency_key_returns_the_same_upload(api, fs_storage):
    first = start(api, 100, HTTP_IDEMPOTENCY_KEY="abc")
    again = start(api, 100, HTTP_IDEMPOTENCY_KEY="abc")
    assert first == again and Upload.objects.count() == 1
    other = api.post(URL, {"filename": "x.mp4", "size": 5}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="abc")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
