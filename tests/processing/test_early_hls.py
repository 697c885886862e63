"""The early publisher (processing.early_hls) on the CMAF layout: a stream's init section and
segments are stored before the playlist that names them, the master only once the lead and the
sound each have a segment, and it names the sound as the audio group. No encode here: the files
ffmpeg would have closed are written by the test."""

from pathlib import Path

import pytest

from media_tasks import storage
from media_tasks.models import Job
from media_tasks.pipeline.hls import playlist_segments
from media_tasks.pipeline.identity import INIT, MASTER, audio_stream
from media_tasks.pipeline.video import Rung
from media_tasks.processing.early_hls import EarlyHlsPublisher
from tests.media import make_video
from tests.processing.test_jobs import upload

pytestmark = pytest.mark.django_db

LEAD = Rung(name="360p", width=640, height=360, maxrate_kbps=800)
SOUND = audio_stream(128)


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("early") / "clip.mp4", width=320, height=240, duration=1.0)


def grow(root: Path, directory: str, count: int, *, ended: bool = False) -> None:
    """What ffmpeg's hls muxer has closed so far: init.mp4, `count` segments, the EVENT playlist."""
    folder = root / directory
    folder.mkdir(parents=True, exist_ok=True)
    (folder / INIT).write_bytes(b"init of " + directory.encode())
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-PLAYLIST-TYPE:EVENT", f'#EXT-X-MAP:URI="{INIT}"']
    for i in range(count):
        (folder / f"seg_{i:05d}.m4s").write_bytes(f"segment {i} of {directory}".encode())
        lines += ["#EXTINF:2.000000,", f"seg_{i:05d}.m4s"]
    (folder / "index.m3u8").write_text("\n".join([*lines, *(["#EXT-X-ENDLIST"] if ended else [])]) + "\n")


PLAYLISTS: list[tuple[int, str, str]] = []  # (position in the recorded keys, key, text stored)


@pytest.fixture
def recorded(monkeypatch) -> list[str]:
    """Every key the publisher writes, in order (and each playlist's text as it was stored)."""
    written: list[str] = []
    PLAYLISTS.clear()
    upload_files, replace_file = storage.upload_files, storage.replace_file

    def record_upload(files, *args, **kwargs):
        written.extend(files.values())
        return upload_files(files, *args, **kwargs)

    def record_replace(path, key, *args, **kwargs):
        if key.endswith("index.m3u8"):
            PLAYLISTS.append((len(written), key, Path(path).read_text()))
        written.append(key)
        return replace_file(path, key, *args, **kwargs)

    monkeypatch.setattr(storage, "upload_files", record_upload)
    monkeypatch.setattr(storage, "replace_file", record_replace)
    return written


def check_order(written: list[str], prefix: str) -> None:
    """Each playlist stored after its init and every segment it names at that moment; the master
    after the playlists it names."""
    assert PLAYLISTS
    for i, key, text in PLAYLISTS:
        directory = key.rsplit("/", 1)[0]
        before = set(written[:i])
        assert f"{directory}/{INIT}" in before, key
        assert all(f"{directory}/{name}" in before for name in playlist_segments(text)), key
    for i, key in enumerate(written):
        if key == f"{prefix}/{MASTER}":
            assert {f"{prefix}/{LEAD.stream.playlist}", f"{prefix}/{SOUND.playlist}"} <= set(written[:i])


def test_streams_are_stored_init_first_and_the_master_once_both_have_a_segment(
    fs_storage, user, small_video, tmp_path, recorded
):
    job = upload(small_video, user)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.TRANSCODING)
    root, scratch = tmp_path / "streams", tmp_path / "scratch"
    scratch.mkdir()
    publisher = EarlyHlsPublisher(
        job_id=job.pk, asset_id=job.asset_id, rungs=[LEAD], audio=SOUND, root=root, worker="w1"
    )
    prefix = f"{storage.HLS}/{job.asset_id}"

    publisher.publish(scratch)  # nothing closed yet
    assert recorded == []
    grow(root, LEAD.stream.directory, 1)
    publisher.publish(scratch)  # the lead has a segment, the sound none: not playable yet
    assert recorded == [
        f"{prefix}/video/360p-h264/init.mp4",
        f"{prefix}/video/360p-h264/seg_00000.m4s",
        f"{prefix}/video/360p-h264/index.m3u8",
    ]
    assert not storage.exists(f"{prefix}/{MASTER}")
    job.refresh_from_db()
    assert job.playable_at is None

    grow(root, SOUND.directory, 1)
    grow(root, LEAD.stream.directory, 2)
    publisher.publish(scratch)
    master = storage.read_bytes(f"{prefix}/{MASTER}").decode()
    assert "video/360p-h264/index.m3u8" in master and 'URI="audio/128k-aac/index.m3u8"' in master
    assert 'AUDIO="audio"' in master
    job.refresh_from_db()
    assert job.playable_at is not None
    # The lead's init is stored once; only its new segment follows, then its playlist again.
    assert recorded.count(f"{prefix}/video/360p-h264/init.mp4") == 1
    assert f"{prefix}/video/360p-h264/seg_00001.m4s" in recorded

    grow(root, LEAD.stream.directory, 2, ended=True)  # the encode's end: no new segment
    grow(root, SOUND.directory, 2, ended=True)
    publisher.publish(scratch)
    for stream in (LEAD.stream, SOUND):
        assert "#EXT-X-ENDLIST" in storage.read_bytes(f"{prefix}/{stream.playlist}").decode()
    assert recorded.count(f"{prefix}/{MASTER}") == 1, "the master names the same streams: not rewritten"
    check_order(recorded, prefix)
