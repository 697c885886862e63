"""Reads on both backends: a small file whole in one request (the playlists /play serves), a
large one streamed a chunk at a time (an original hashed on completion)."""

import os

import pytest

from media_tasks import storage

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("backend", ["fs_storage", "s3_storage"])
def test_read_bytes_reads_a_stored_file_whole_and_says_when_there_is_none(request, backend, tmp_path):
    request.getfixturevalue(backend)
    playlist = tmp_path / "index.m3u8"
    playlist.write_text("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\nseg_00000.ts\n")
    key = storage.asset_key(storage.HLS, "8c0d4a4e-6f0e-4b8e-9a53-1f3c2b1d5e77", "360p/index.m3u8")
    storage.replace_file(playlist, key)
    assert storage.read_bytes(key) == playlist.read_bytes()
    with pytest.raises(FileNotFoundError):
        storage.read_bytes(key.replace("360p", "720p"))


@pytest.mark.parametrize("backend", ["fs_storage", "s3_storage"])
def test_read_chunks_streams_a_large_file_in_pieces(request, backend, tmp_path):
    request.getfixturevalue(backend)
    original = tmp_path / "source"
    original.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    key = storage.original_key("0b7e6d1c-2f4e-4c1a-9d8e-5a6b7c8d9e0f")
    storage.upload_file(original, key)
    chunks = list(storage.read_chunks(key))
    assert len(chunks) >= 3 and max(map(len, chunks)) <= 1024 * 1024
    assert b"".join(chunks) == original.read_bytes()
