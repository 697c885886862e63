"""A small file read whole in one request (the playlists /play serves), on both backends."""

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
