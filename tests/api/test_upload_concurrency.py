"""Uploads racing each other on the real (SQLite) database: a long join must not hold the
write lock, a completion runs once, and the same file sent twice at once makes one asset."""

import hashlib
import os
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from media_tasks import storage
from media_tasks.models import Asset, Job, Upload

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1024 * 1024
URL = "/api/v1/uploads"
WAIT_S = 60  # generous: these waits end as soon as the other side moves


class Call(threading.Thread):
    """One request in its own thread (and database connection), as a web server thread would run it."""

    def __init__(self, client: Client, method: str, *args, **kwargs):
        super().__init__(daemon=True)
        self.client, self.method, self.args, self.kwargs = client, method, args, kwargs
        self.response, self.error = None, None
        self.start()

    def run(self) -> None:
        try:
            self.response = getattr(self.client, self.method)(*self.args, **self.kwargs)
        except Exception as exc:  # e.g. "database is locked": reported by the test
            self.error = exc
        finally:
            connection.close()


def test_joining_an_upload_does_not_hold_the_database(api, other_api, fs_storage, monkeypatch):
    data = os.urandom(3 * MiB)
    upload_id = api.post(URL, {"filename": "big.mov", "size": len(data)}, content_type="application/json").json()[
        "upload_id"
    ]
    for number, start in enumerate(range(0, len(data), MiB), 1):
        api.put(f"{URL}/{upload_id}/parts/{number}", data[start : start + MiB], content_type="application/octet-stream")
    joining, release = threading.Event(), threading.Event()
    real_open = storage.open_file

    def slow_open(key):
        """The join reads the parts back: hold it there, half way, until the test lets go."""
        if key.startswith("uploads/") and not joining.is_set():
            joining.set()
            release.wait(WAIT_S)
        return real_open(key)

    monkeypatch.setattr(storage, "open_file", slow_open)
    first = Call(api, "post", f"{URL}/{upload_id}/complete", {"parts": []}, content_type="application/json")
    try:
        assert joining.wait(WAIT_S), "the join never started"
        other = Call(other_api, "post", URL, {"filename": "x.mp4", "size": 10}, content_type="application/json")
        other.join(WAIT_S / 2)
        assert not other.is_alive(), "another user's upload start waited for the join"
        assert other.error is None, f"another user's upload start failed: {other.error!r}"
        assert other.response.status_code == 201, other.response.content
        second = Call(api, "post", f"{URL}/{upload_id}/complete", {"parts": []}, content_type="application/json")
        second.join(WAIT_S / 2)
        assert not second.is_alive(), "a second completion waited for the first"
        assert second.response.status_code == 409, second.response.content
        assert second.response.json()["error"]["code"] == "upload_completing"
        assert first.is_alive(), "the join was not held"
    finally:
        release.set()
        first.join(WAIT_S)
    assert first.response.status_code == 202, first.response.content
    again = api.post(f"{URL}/{upload_id}/complete", {"parts": []}, content_type="application/json")
    assert again.status_code == 202 and again.json()["job_id"] == first.response.json()["job_id"]
    assert Asset.objects.count() == 1 and Job.objects.count() == 1
    assert Upload.objects.get(pk=upload_id).status == Upload.Status.COMPLETED
    assert (fs_storage / Asset.objects.get().original_key).read_bytes() == data


def test_the_same_file_sent_twice_at_once_makes_one_asset(api, token, fs_storage, monkeypatch):
    data = os.urandom(200_000)
    both_stored = threading.Barrier(2, timeout=WAIT_S)
    real_save = storage.save_stream

    def save_side_by_side(key, fileobj):
        """Both requests have checked for an earlier copy and are storing theirs when they meet here."""
        real_save(key, fileobj)
        if key.startswith("originals/"):
            both_stored.wait()

    monkeypatch.setattr(storage, "save_stream", save_side_by_side)
    clients = []
    for _ in range(2):
        client = Client()
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        clients.append(client)
    calls = [Call(c, "post", "/api/v1/assets", {"file": SimpleUploadedFile("twice.bin", data)}) for c in clients]
    for call in calls:
        call.join(WAIT_S)
    statuses = sorted(call.response.status_code for call in calls)
    assert statuses == [200, 202], [call.response.content for call in calls]
    assert Asset.objects.filter(sha256=hashlib.sha256(data).hexdigest()).count() == 1
    assert len({call.response.json()["asset_id"] for call in calls}) == 1
    originals = [p for p in (fs_storage / "originals").rglob("*") if p.is_file()]
    assert len(originals) == 1, f"the loser's copy was left in storage: {originals}"
