"""A long source encoded in chunks as a Celery chord across two real workers, one of which is
killed in the middle of a chunk: only that chunk is redone, and the result plays like a
whole-file encode (frame count, monotonic timestamps, A/V drift, keyframe grid), every stream
stored once as CMAF (the rungs' pictures, the sound on its own)."""

import itertools
import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from media_tasks.models import Job
from media_tasks.pipeline.tee import HLS_FIRST_SEGMENT_SECONDS
from tests.conftest import wait_until
from tests.e2e.test_cancel import ffmpeg_processes_for
from tests.e2e.test_upload_to_renditions import post, wait_for_job
from tests.media import make_cut_short_mp4, make_video
from tests.pipeline.cmaf_checks import keyframe_times
from tests.pipeline.test_chunks import frames, stream_durations

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHUNKED = {"MEDIA_CHUNK_THRESHOLD_S": "6", "MEDIA_CHUNK_SECONDS": "4", "MEDIA_X264_THREADS": "1"}


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:  # it ended meanwhile
        return None


def fetch_stream(s3, playlist_key: str, dest: Path) -> Path:
    """A stored stream as one local fMP4 file, read as a player reads it: its media playlist
    (VOD, EXT-X-MAP), then the init section and every file it names, in order, each once."""
    text = s3.get_object(Bucket=s3.bucket, Key=playlist_key)["Body"].read().decode()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-ENDLIST" in text, text
    init = [line.split('URI="', 1)[1].split('"', 1)[0] for line in text.splitlines() if line.startswith("#EXT-X-MAP")]
    assert len(init) == 1, text
    names = dict.fromkeys([*init, *(line for line in text.splitlines() if line and not line.startswith("#"))])
    directory = playlist_key.rsplit("/", 1)[0]
    with dest.open("wb") as out:
        for name in names:
            out.write(s3.get_object(Bucket=s3.bucket, Key=f"{directory}/{name}")["Body"].read())
    return dest


def probe_streams(path: Path) -> list[dict]:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_streams", str(path)], capture_output=True)
    return json.loads(out.stdout)["streams"]


def fragment_starts(path: Path) -> list[float]:
    """Where each fragment of the fMP4 starts (its tfdt), read from the boxes, in seconds."""
    data = path.read_bytes()
    timescale, starts, pos = 0, [], 0
    while pos + 8 <= len(data):
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        if kind == b"moov":
            mdhd = data.find(b"mdhd", pos, pos + size)
            version = data[mdhd + 4]
            timescale = int.from_bytes(data[mdhd + (24 if version else 16) : mdhd + (28 if version else 20)], "big")
        elif kind == b"moof":
            tfdt = data.find(b"tfdt", pos, pos + size)
            wide = data[tfdt + 4] == 1
            start = int.from_bytes(data[tfdt + 8 : tfdt + (16 if wide else 12)], "big")
            starts.append(round(start / timescale, 3))
        pos += size
    return starts


def chunks_encoded(*workers) -> Counter:
    found = Counter()
    for worker in workers:
        found.update(int(i) for i in re.findall(r"chunk (\d+) of \d+ encoded", worker.log_tail(500_000)))
    return found


def test_chunked_transcode_across_workers_survives_a_killed_worker(
    without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    one = start_worker("chunk-a", concurrency=1, **CHUNKED)
    two = start_worker("chunk-b", concurrency=1, **CHUNKED)
    clip = make_video(tmp_path / "long.mp4", width=1280, height=720, duration=12.0, tone=247)
    job_id = post(alice_client, clip)["job_id"]

    # Kill the worker whose process group runs a chunk's ffmpeg, in the middle of it.
    def encoding_worker():
        groups = {_group(pid) for pid in ffmpeg_processes_for(job_id)}
        return next((w for w in (one, two) if w.proc.pid in groups), None)

    victim = wait_until(encoding_worker, 120, "a worker to be encoding a chunk")
    victim.kill()
    victim.start()
    job, _ = wait_for_job(job_id, one, timeout=240)
    assert job.status == Job.Status.SUCCEEDED, job.error
    events = list(job.events.values_list("message", flat=True))
    assert any("in 3 chunks" in m for m in events), events
    done = chunks_encoded(one, two)
    assert sorted(done) == [0, 1, 2] and all(n == 1 for n in done.values()), f"chunks encoded: {done}"
    assert all(chunks_encoded(w) for w in (one, two)), "both workers took chunks"

    wait_until(
        lambda: not job.asset.renditions.filter(kind="mp4", ssim__isnull=True).exists(), 60, "SSIM after the job"
    )
    renditions = {r.profile: r for r in job.asset.renditions.filter(kind="mp4")}
    assert sorted(renditions) == ["360p", "480p", "720p"]
    (sound,) = job.asset.renditions.filter(kind="audio")
    assert sound.storage_key == f"hls/{job.asset_id}/audio/128k-aac/index.m3u8"
    sound_path = fetch_stream(s3_storage, sound.storage_key, tmp_path / "sound.mp4")
    assert [s["codec_type"] for s in probe_streams(sound_path)] == ["audio"]
    for name, rendition in renditions.items():
        assert rendition.storage_key == f"hls/{job.asset_id}/video/{name}-h264/index.m3u8"
        path = fetch_stream(s3_storage, rendition.storage_key, tmp_path / f"{name}.mp4")
        assert [s["codec_type"] for s in probe_streams(path)] == ["video"], "one track per stream"
        pts = frames(path)
        assert len(pts) == 360, (name, len(pts))
        assert all(a < b for a, b in itertools.pairwise(pts)), f"{name}: timestamps go back"
        durations = {"video": stream_durations(path)["video"], "audio": stream_durations(sound_path)["audio"]}
        assert abs(durations["video"] - durations["audio"]) < 0.040, (name, durations)
        # The GOP grid, plus the keyframe that ends the short first fragment (as a whole encode),
        # each opening a fragment: the same instants in every rung.
        expected = sorted({float(HLS_FIRST_SEGMENT_SECONDS), *(float(t) for t in range(0, 12, 2))})
        # Decode times (ffmpeg shifts its presentation times of signed-offset fMP4 by the B-frame
        # delay); with offsets signed, each keyframe is shown at its decode time (MSE).
        assert keyframe_times(path) == pytest.approx(expected, abs=1e-3), (name, keyframe_times(path))
        assert fragment_starts(path) == expected, (name, fragment_starts(path))
        assert 0.9 < rendition.ssim <= 1.0
    leftovers = s3_storage.list_objects_v2(Bucket=s3_storage.bucket, Prefix=f"chunks/{job.asset_id}/")
    assert leftovers.get("KeyCount", 0) == 0, "chunk pieces are deleted after the join"


def test_a_long_source_cut_short_fails_after_its_chunks_are_joined(
    without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    """Its index says 12 s (three chunks), half of it is there: the joined renditions are 6 s
    short, and the job fails saying so instead of becoming Ready."""
    worker = start_worker("chunk-cut", concurrency=2, **CHUNKED)
    clip = make_cut_short_mp4(tmp_path / "cut.mp4", duration=12.0, width=854, height=480, tone=349)
    job_id = post(alice_client, clip)["job_id"]
    job, _ = wait_for_job(job_id, worker, timeout=240)
    events = list(job.events.values_list("message", flat=True))
    print(f"\ncut-short chunked source: {job.status}: {job.error}; events {events}")
    assert any("in 3 chunks" in m for m in events), events
    made = list(job.asset.renditions.values_list("profile", flat=True))
    assert job.status == Job.Status.FAILED, f"{job.status}: renditions {made}"
    assert "cut short" in job.error and "declares 12.0 s" in job.error, job.error
    assert chunks_encoded(worker), "it failed after the chunks, at the join"
    assert not job.asset.renditions.exists()
