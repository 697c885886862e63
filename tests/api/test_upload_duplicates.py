"""The same bytes uploaded again by the same owner become no second asset, whichever way each
copy came (direct upload through the API, or the plain form), on both storage backends: the
second answer is the first asset, marked duplicate, and nothing of the copy is stored or queued."""

from __future__ import annotations

import os

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from media_tasks import tasks
from media_tasks.models import Asset, Job, Upload

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/uploads"
BACKENDS = ["fs_storage", "s3_storage"]


@pytest.fixture
def backend(request):
    """The storage backend under test, and a way to list its originals without our storage code."""
    name = request.param
    place = request.getfixturevalue(name)
    if name == "fs_storage":
        return lambda: {str(p.relative_to(place)) for p in (place / "originals").rglob("*") if p.is_file()}

    def s3_originals() -> set[str]:
        pages = place.get_paginator("list_objects_v2").paginate(Bucket=place.bucket, Prefix="originals/")
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    return s3_originals


@pytest.fixture
def enqueued(monkeypatch) -> list[str]:
    """The jobs sent to the workers (after their commit), recorded instead of published."""
    sent: list[str] = []
    monkeypatch.setattr(tasks, "job_enqueue", lambda *, job_id: sent.append(str(job_id)))
    return sent


@pytest.fixture
def form(user) -> Client:
    """Alice in a browser, on the plain upload form."""
    browser = Client()
    browser.force_login(user)
    return browser


def direct_upload(api, data: bytes, name: str = "clip.mp4") -> tuple[str, dict]:
    """Start, send the one part where the server says, and complete: the upload's id and the completion."""
    started = api.post(URL, {"filename": name, "size": len(data)}, content_type="application/json")
    assert started.status_code == 201, started.content
    upload_id = started.json()["upload_id"]
    target = api.post(f"{URL}/{upload_id}/parts/1/url?size={len(data)}").json()
    if started.json()["multipart"]:  # to the bucket, on its presigned URL
        sent = requests.put(target["url"], data=data, timeout=30)
        assert sent.status_code == 200, sent.content
        parts = [{"part_number": 1, "etag": sent.headers["ETag"]}]
    else:  # to our own part endpoint
        sent = api.put(target["url"], data, content_type="application/octet-stream")
        assert sent.status_code == 200, sent.content
        parts = [{"part_number": 1, "etag": sent["ETag"]}]
    return upload_id, complete(api, upload_id, parts)


def complete(api, upload_id: str, parts: list[dict]) -> dict:
    done = api.post(f"{URL}/{upload_id}/complete", {"parts": parts}, content_type="application/json")
    assert done.status_code in (200, 202), done.content
    return {"code": done.status_code, **done.json()}


def form_upload(form: Client, data: bytes, name: str = "clip.mp4") -> dict:
    answer = form.post(
        reverse("asset_upload"), {"file": SimpleUploadedFile(name, data)}, HTTP_ACCEPT="application/json"
    )
    assert answer.status_code in (200, 202), answer.content
    return {"code": answer.status_code, **answer.json()}


def assert_one_asset(first: dict, second: dict, enqueued: list[str]) -> None:
    assert first["code"] == 202 and first["duplicate"] is False, first
    assert second["code"] == 200 and second["duplicate"] is True, second
    assert second["asset_id"] == first["asset_id"] and second["job_id"] == first["job_id"], second
    assert first["asset_id"] in second["status_url"], second
    assert Asset.objects.count() == 1 and Job.objects.count() == 1
    assert enqueued == [first["job_id"]], "the copy was queued for processing too"


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_the_same_file_uploaded_directly_twice_is_one_asset(api, backend, enqueued):
    data = os.urandom(300_000)
    before = backend()
    first_id, first = direct_upload(api, data)
    second_id, second = direct_upload(api, data, name="the-same-again.mp4")
    assert_one_asset(first, second, enqueued)
    assert backend() - before == {f"originals/{first_id}/source"}, "the copy's object was kept"
    assert Upload.objects.get(pk=second_id).status == Upload.Status.COMPLETED
    # A client that lost the answer completes again: the same answer, still nothing new.
    again = complete(api, second_id, [])
    assert again == second
    assert Asset.objects.count() == 1 and enqueued == [first["job_id"]]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_a_direct_upload_of_a_file_sent_on_the_form_before_is_a_duplicate(api, form, backend, enqueued):
    data = os.urandom(200_000)
    before = backend()
    first = form_upload(form, data)
    second_id, second = direct_upload(api, data)
    assert_one_asset(first, second, enqueued)
    assert not any(second_id in key for key in backend() - before), "the copy's object was kept"
    assert complete(api, second_id, []) == second


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_the_form_knows_a_file_uploaded_directly_before(api, form, backend, enqueued):
    data = os.urandom(200_000)
    before = backend()
    first_id, first = direct_upload(api, data)
    second = form_upload(form, data)
    assert_one_asset(first, second, enqueued)
    assert backend() - before == {f"originals/{first_id}/source"}


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_a_direct_upload_after_a_failed_one_is_tried_again(api, backend, enqueued):
    """A new try is what the owner wants when the earlier copy failed: a new asset."""
    data = os.urandom(100_000)
    first_id, first = direct_upload(api, data)
    Job.objects.filter(pk=first["job_id"]).update(status=Job.Status.FAILED)
    second_id, second = direct_upload(api, data)
    assert second["code"] == 202 and second["duplicate"] is False and second["asset_id"] == second_id, second
    assert {str(a.pk) for a in Asset.objects.all()} == {first_id, second_id}
    assert Asset.objects.get(pk=second_id).sha256 == Asset.objects.get(pk=first_id).sha256 != ""


def test_another_owners_copy_is_not_a_duplicate(api, other_api, fs_storage, enqueued):
    data = os.urandom(50_000)
    _, mine = direct_upload(api, data)
    _, theirs = direct_upload(other_api, data)
    assert theirs["code"] == 202 and theirs["duplicate"] is False and theirs["asset_id"] != mine["asset_id"]


def test_a_completed_upload_whose_asset_was_deleted_says_so(api, fs_storage, enqueued):
    upload_id, _ = direct_upload(api, os.urandom(10_000))
    assert api.delete(f"/api/v1/assets/{upload_id}").status_code == 204
    again = api.post(f"{URL}/{upload_id}/complete", {"parts": []}, content_type="application/json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "upload_closed", again.content
    assert not Asset.objects.exists()


def test_the_schema_documents_the_duplicate_answer(client):
    operation = client.get("/api/v1/openapi.json").json()["paths"][f"{URL}/{{upload_id}}/complete"]["post"]
    assert {"200", "202"} <= set(operation["responses"]), operation["responses"]
    assert "earlier" in operation["description"]


def test_aborting_a_completed_upload_says_to_delete_its_asset(api, fs_storage, enqueued):
    upload_id, done = direct_upload(api, os.urandom(5000))
    refused = api.delete(f"{URL}/{upload_id}")
    assert refused.status_code == 409, refused.content
    assert refused.json()["error"]["code"] == "upload_completed" and "delete" in refused.json()["error"]["message"]
    assert Upload.objects.get(pk=upload_id).status == Upload.Status.COMPLETED
    assert Asset.objects.filter(pk=done["asset_id"]).exists()
