"""A long source encoded in chunks as a Celery chord across two real workers, one of which is
killed in the middle of a chunk: only that chunk is redone, and the result plays like a
whole-file encode (frame count, monotonic timestamps, A/V drift, keyframe grid)."""

import itertools
import os
import re
from collections import Counter

import pytest

from media_tasks.models import Job
from media_tasks.pipeline.video import HLS_FIRST_SEGMENT_SECONDS
from tests.conftest import wait_until
from tests.e2e.test_cancel import ffmpeg_processes_for
from tests.e2e.test_upload_to_renditions import fetch, post, wait_for_job
from tests.media import make_cut_short_mp4, make_video
from tests.pipeline.test_chunks import frames, keyframes, stream_durations

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHUNKED = {"MEDIA_CHUNK_THRESHOLD_S": "6", "MEDIA_CHUNK_SECONDS": "4", "MEDIA_X264_THREADS": "1"}


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:  # it ended meanwhile
        return None


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
    for name, rendition in renditions.items():
        path = fetch(s3_storage, rendition.storage_key, tmp_path / f"{name}.mp4")
        pts = frames(path)
        assert len(pts) == 360, (name, len(pts))
        assert all(a < b for a, b in itertools.pairwise(pts)), f"{name}: timestamps go back"
        durations = stream_durations(path)
        assert abs(durations["video"] - durations["audio"]) < 0.040, (name, durations)
        # The GOP grid, plus the keyframe that ends the short first HLS segment (as a whole encode).
        expected = sorted({float(HLS_FIRST_SEGMENT_SECONDS), *(float(t) for t in range(0, 12, 2))})
        assert keyframes(path) == expected, (name, keyframes(path))
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
