"""Direct uploads keep only whole parts, bound each part by the declared size, and refuse a
completion whose parts do not add up (wrong total, forged or duplicate ETags) with a clear 4xx,
on the filesystem backend (through a live server) and on S3 (moto_server)."""

import hashlib
import json
import os
import socket
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from media_tasks.models import Asset, Upload
from media_tasks.services import uploads as upload_service

MiB = 1024 * 1024
URL = "/api/v1/uploads"


def start(api, size: int) -> str:
    response = api.post(URL, {"filename": "clip.mp4", "size": size}, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["upload_id"]


def put(api, upload_id: str, number: int, body: bytes):
    return api.put(f"{URL}/{upload_id}/parts/{number}", body, content_type="application/octet-stream")


def complete(api, upload_id: str, parts: list[tuple[int, str]] | None = None):
    body = {"parts": [{"part_number": n, "etag": e} for n, e in parts or []]}
    return api.post(f"{URL}/{upload_id}/complete", body, content_type="application/json")


def md5(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def error(response) -> dict:
    return response.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_a_part_cut_off_mid_body_is_not_kept(live_server, fs_storage, token):
    """A client that dies mid-part (a reload, a dropped connection): the server saw a
    Content-Length of 1 MiB and only 300 kB before the connection was closed."""
    data = os.urandom(MiB + 5)
    auth = {"Authorization": f"Bearer {token}"}
    upload_id = requests.post(
        live_server.url + URL, json={"filename": "clip.mp4", "size": len(data)}, headers=auth, timeout=30
    ).json()["upload_id"]
    host, port = urlsplit(live_server.url).hostname, urlsplit(live_server.url).port
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.sendall(
            f"PUT {URL}/{upload_id}/parts/1 HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {MiB}\r\nConnection: close\r\n\r\n".encode()
        )
        conn.sendall(data[: 300 * 1024])
        conn.shutdown(socket.SHUT_WR)  # the rest of the body never comes
        answer = b"".join(iter(lambda: conn.recv(65536), b""))
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 400 " in status_line, answer[:300]
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "incomplete_part"
    listed = requests.get(f"{live_server.url}{URL}/{upload_id}/parts", headers=auth, timeout=30).json()
    assert listed == [], f"a truncated part is listed as received: {listed}"
    stored = [p for p in (fs_storage / "uploads" / upload_id).rglob("*") if p.is_file()]
    assert stored == [], f"the cut-off body was left in storage: {stored}"
    # The client resends both parts whole and completes: the stored file is the file.
    for number, body in ((1, data[:MiB]), (2, data[MiB:])):
        sent = requests.put(f"{live_server.url}{URL}/{upload_id}/parts/{number}", data=body, headers=auth, timeout=30)
        assert sent.status_code == 200, sent.content
    done = requests.post(f"{live_server.url}{URL}/{upload_id}/complete", json={"parts": []}, headers=auth, timeout=30)
    assert done.status_code == 202, done.content
    assert (fs_storage / Asset.objects.get().original_key).read_bytes() == data


@pytest.mark.django_db
def test_parts_are_bounded_by_the_declared_size(api, fs_storage):
    upload_id = start(api, 100)
    too_big = put(api, upload_id, 1, b"x" * MiB)
    assert too_big.status_code == 413 and error(too_big)["code"] == "part_too_large", too_big.content
    assert put(api, upload_id, 1, b"a" * 60).status_code == 200
    beyond = put(api, upload_id, 2, b"b" * 60)
    assert beyond.status_code == 413 and "declared size" in error(beyond)["message"], beyond.content
    assert put(api, upload_id, 1, b"a" * 70).status_code == 200  # resending part 1 replaces it
    assert put(api, upload_id, 2, b"b" * 30).status_code == 200
    assert [p["size"] for p in api.get(f"{URL}/{upload_id}/parts").json()] == [70, 30]


@pytest.mark.django_db
def test_completion_checks_the_total_and_each_etag(api, fs_storage):
    first, second = os.urandom(60), os.urandom(40)
    upload_id = start(api, 100)
    assert put(api, upload_id, 1, first).status_code == 200
    short = complete(api, upload_id)
    assert short.status_code == 400 and error(short)["code"] == "size_mismatch", short.content
    assert put(api, upload_id, 2, second).status_code == 200
    forged = complete(api, upload_id, [(1, md5(first)), (2, md5(b"something else"))])
    assert forged.status_code == 400 and error(forged)["code"] == "invalid_part", forged.content
    duplicate = complete(api, upload_id, [(1, md5(first)), (1, md5(first))])
    assert duplicate.status_code == 400 and error(duplicate)["code"] == "invalid_part", duplicate.content
    missing = complete(api, upload_id, [(1, md5(first))])
    assert missing.status_code == 400, missing.content
    assert Upload.objects.get().status == Upload.Status.OPEN and not Asset.objects.exists()
    done = complete(api, upload_id, [(1, md5(first)), (2, md5(second))])
    assert done.status_code == 202, done.content
    assert (fs_storage / Asset.objects.get().original_key).read_bytes() == first + second


@pytest.mark.django_db
def test_s3_part_urls_are_signed_for_the_part_length(api, s3_storage):
    upload_id = start(api, 6 * MiB)
    target = api.post(f"{URL}/{upload_id}/parts/1/url?size={5 * MiB}").json()
    signed = parse_qs(urlsplit(target["url"]).query)["X-Amz-SignedHeaders"][0].split(";")
    assert "content-length" in signed, target["url"]
    beyond = api.post(f"{URL}/{upload_id}/parts/1/url?size={7 * MiB}")
    assert beyond.status_code == 413 and error(beyond)["code"] == "part_too_large", beyond.content
    unsized = api.post(f"{URL}/{upload_id}/parts/1/url")
    assert unsized.status_code == 400 and error(unsized)["fields"][0]["field"] == "size", unsized.content
    assert requests.put(target["url"], data=os.urandom(5 * MiB), timeout=30).status_code == 200


@pytest.mark.django_db
def test_s3_completion_errors_are_clear_4xx(api, s3_storage):
    # A forged ETag: S3 answers InvalidPart.
    upload_id = start(api, 10)
    target = api.post(f"{URL}/{upload_id}/parts/1/url?size=10").json()
    assert requests.put(target["url"], data=b"0123456789", timeout=30).status_code == 200
    forged = complete(api, upload_id, [(1, '"0123456789abcdef0123456789abcdef"')])
    assert forged.status_code == 400 and error(forged)["code"] == "invalid_part", forged.content
    assert Upload.objects.get(pk=upload_id).status == Upload.Status.OPEN  # the client may complete properly
    # A first part under S3's 5 MiB minimum: EntityTooSmall.
    small_id = start(api, 20)
    etags = []
    for number in (1, 2):
        url = api.post(f"{URL}/{small_id}/parts/{number}/url?size=10").json()["url"]
        etags.append((number, requests.put(url, data=b"x" * 10, timeout=30).headers["ETag"]))
    too_small = complete(api, small_id, etags)
    assert too_small.status_code == 400 and error(too_small)["code"] == "part_too_small", too_small.content


@pytest.mark.django_db
def test_s3_completion_over_the_limit_leaves_the_upload_aborted(api, s3_storage, settings):
    upload_id = start(api, 20)
    url = api.post(f"{URL}/{upload_id}/parts/1/url?size=20").json()["url"]
    etag = requests.put(url, data=b"y" * 20, timeout=30).headers["ETag"]
    settings.MEDIA_MAX_UPLOAD_BYTES = 15
    refused = complete(api, upload_id, [(1, etag)])
    assert refused.status_code == 413, refused.content
    assert Upload.objects.get(pk=upload_id).status == Upload.Status.ABORTED
    again = complete(api, upload_id, [(1, etag)])
    assert again.status_code == 409 and error(again)["code"] == "upload_closed", again.content
    assert not Asset.objects.exists()


@pytest.mark.django_db
def test_stale_upload_sweep_goes_on_past_a_bad_item(api, s3_storage):
    ids = [start(api, 10) for _ in range(3)]
    gone = Upload.objects.get(pk=ids[1])
    s3_storage.abort_multipart_upload(Bucket=s3_storage.bucket, Key=gone.storage_key, UploadId=gone.s3_upload_id)
    Upload.objects.update(created_at=Upload.objects.get(pk=ids[0]).created_at.replace(year=2000))
    assert upload_service.uploads_abort_stale(older_than_s=3600) == 3
    assert set(Upload.objects.values_list("status", flat=True)) == {Upload.Status.ABORTED}
    keys = {u.storage_key for u in Upload.objects.all()}
    left = s3_storage.list_multipart_uploads(Bucket=s3_storage.bucket).get("Uploads", [])
    assert not [u for u in left if u["Key"] in keys], left
