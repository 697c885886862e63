"""Benchmark helper for `bench/run.py --only playable` (skipped otherwise): one upload through the
API, timed from the upload accepted (202) to playable (the API's link names a variant whose first
segment ffprobe fetches and decodes) and to ready, with the worker's CPU-seconds.

BENCH_CLIP: the source (made by the bench); BENCH_STORAGE: "s3" (moto_server) or "fs" (the
embedded default); BENCH_CANCEL=1: cancel the job once playable (the long source)."""

import json
import os
import re
import time
import uuid
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from media_tasks import services
from media_tasks.models import Job
from media_tasks.pipeline.probe import ProbeLimits, probe
from tests.conftest import WorkerProcess, s3_env, worker_env
from tests.e2e.test_playable import upload, wait_playable
from tests.e2e.test_upload_to_renditions import wait_for_job
from tests.playback import probe_url, variant_urls

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(os.environ.get("MEDIA_BENCH") != "1", reason="benchmark helper: make bench runs it"),
]

TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_s(group: int) -> float:
    """CPU-seconds of a process group so far: its processes and the children they reaped (ffmpeg)."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / TICKS


_MAP = re.compile(r'#EXT-X-MAP:URI="([^"]+)"(?:,BYTERANGE="(\d+)@(\d+)")?')
_RANGE = re.compile(r"#EXT-X-BYTERANGE:(\d+)@(\d+)")


def _fetch(url: str, length: str | None = None, offset: str | None = None) -> bytes:
    headers = {"Range": f"bytes={offset}-{int(offset) + int(length) - 1}"} if length and offset else {}
    return requests.get(url, headers=headers, timeout=30).content


def first_segment_decodes(link: str, scratch: Path) -> bool:
    """Whether a variant's first segment decodes as a player reads it: after the variant's
    EXT-X-MAP (a CMAF init segment), and only its EXT-X-BYTERANGE where the playlist gives one."""
    for variant in variant_urls(link):
        text = requests.get(variant, timeout=30).text
        lines = text.splitlines()
        first = next((i for i, line in enumerate(lines) if line and not line.startswith("#")), None)
        if first is None:
            continue
        init = _MAP.search(text)
        body = _fetch(urljoin(variant, init[1]), init[2], init[3]) if init else b""
        ranged = _RANGE.match(lines[first - 1])
        body += _fetch(urljoin(variant, lines[first]), *(ranged.groups() if ranged else ()))
        (scratch / "first-segment").write_bytes(body)
        if _frames_decoded(scratch / "first-segment") > 0:
            return True
    return False


def _frames_decoded(path: Path) -> int:
    """Frames of picture, or of sound for a sound alone, that ffprobe decodes from `path`."""
    info = probe_url(str(path), "-count_frames", "-show_entries", "stream=nb_read_frames")
    return sum(int(s.get("nb_read_frames") or 0) for s in info.get("streams", []))


@pytest.fixture
def bench_worker(without_session_worker, django_db_blocker, s3_server, s3_bucket, tmp_path, request):
    """Two worker processes (one worker, concurrency 2) on the storage BENCH_STORAGE names."""
    s3 = os.environ.get("BENCH_STORAGE", "s3") == "s3"
    if s3:
        request.getfixturevalue("s3_storage")
    with django_db_blocker.unblock():
        env = worker_env(**(s3_env(s3_server, s3_bucket) if s3 else {}))
    worker = WorkerProcess(env, tmp_path / "bench-worker.log", f"bench-{uuid.uuid4().hex[:6]}", concurrency=2)
    worker.start()
    yield worker
    worker.stop()


def test_time_to_playable(bench_worker, live_server, user, tmp_path):
    auth = {"Authorization": f"Bearer {services.api_token_create(owner=user, name='bench').plaintext}"}
    clip = Path(os.environ["BENCH_CLIP"])
    seconds = probe(clip, ProbeLimits(max_duration_s=86400, max_pixels=10**9)).duration
    cpu_before = group_cpu_s(bench_worker.proc.pid)
    accepted = upload(live_server, auth, clip)
    started = time.monotonic()
    data = wait_playable(live_server, auth, accepted["asset_id"], timeout=600)
    marked = time.monotonic() - started  # the API says playable; then a client fetches and decodes
    while not first_segment_decodes(data["playback_url"], tmp_path):
        assert time.monotonic() - started < 120, "the first segment never decoded"
        time.sleep(0.05)
    playable = time.monotonic() - started
    figures = {"seconds": seconds, "playable_s": playable, "marked_s": marked}
    if os.environ.get("BENCH_CANCEL") == "1":
        requests.post(f"{live_server.url}/api/v1/assets/{accepted['asset_id']}/cancel", headers=auth, timeout=30)
    else:
        job, _ = wait_for_job(accepted["job_id"], bench_worker, timeout=1800)
        assert job.status == Job.Status.SUCCEEDED, job.error
        figures["ready_s"] = time.monotonic() - started
        figures["ladder_s"] = next(
            (e.created_at - job.created_at).total_seconds()
            for e in job.events.all()
            if e.type == "stage" and e.stage == Job.Status.THUMBNAILING
        )
        figures["worker_cpu_s"] = group_cpu_s(bench_worker.proc.pid) - cpu_before
    print("BENCH " + json.dumps(figures))
