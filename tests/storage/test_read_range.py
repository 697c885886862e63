"""Ranged reads on both backends: what a download assembled from stream files reads (one ranged
GET per span on S3), whole or a chunk at a time."""

import os

import pytest

from media_tasks import storage

pytestmark = pytest.mark.django_db

ASSET = "5f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


@pytest.mark.parametrize("backend", ["fs_storage", "s3_storage"])
def test_read_range_gives_the_bytes_asked_for_and_fewer_at_the_end(request, backend, tmp_path):
    request.getfixturevalue(backend)
    data = os.urandom(2 * 1024 * 1024 + 7)
    path = tmp_path / "720p-h264.mp4"
    path.write_bytes(data)
    key = storage.asset_key(storage.HLS, ASSET, "video/720p-h264/720p-h264.mp4")
    storage.upload_file(path, key)

    assert storage.read_range(key, 0, 10) == data[:10]
    assert storage.read_range(key, 1000, 12345) == data[1000:13345]
    assert storage.read_range(key, len(data) - 5, 100) == data[-5:]
    chunks = list(storage.read_range_chunks(key, 3, len(data) - 4))
    assert len(chunks) >= 3 and max(map(len, chunks)) <= 1024 * 1024
    assert b"".join(chunks) == data[3:-1]
    with pytest.raises(FileNotFoundError):
        storage.read_range(key.replace("720p", "1080p"), 0, 10)
