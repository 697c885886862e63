"""Benchmark helper, run by `make bench` (skipped in the suite): many small jobs through N real
workers; prints one JSON line with wall time, per-task broker overhead and peak memory."""

import io
import json
import os
import re
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from media_tasks.models import Job
from tests.conftest import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(os.environ.get("MEDIA_BENCH") != "1", reason="benchmark helper: make bench runs it"),
]


def peak_rss_mib(group: int) -> float:
    """The largest VmHWM among the processes of a process group (the worker and its pool)."""
    peak = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.getpgid(int(proc.name)) != group:
                continue
            status = (proc / "status").read_text()
        except (OSError, ProcessLookupError):
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        peak = max(peak, int(match.group(1)) if match else 0)
    return peak / 1024


def test_small_jobs_throughput(without_session_worker, start_worker, alice_client, s3_storage):
    workers = [start_worker(f"bench{i}", concurrency=1) for i in range(int(os.environ.get("BENCH_WORKERS", "1")))]
    count = int(os.environ.get("BENCH_JOBS", "20"))

    def jpeg(color: tuple[int, int, int]) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (1600, 1200), color).save(buffer, "JPEG", quality=90)
        return buffer.getvalue()

    files = [jpeg((i * 7 % 255, 90, 160)) for i in range(count)]

    def upload(i: int, data: bytes, tag: str) -> str:
        response = alice_client.post(
            reverse("asset_upload"),
            {"file": SimpleUploadedFile(f"{tag}{i}.jpg", data)},
            HTTP_ACCEPT="application/json",
            HTTP_X_CORRELATION_ID=f"{tag}-{i}",
        )
        return response.json()["job_id"]

    def done(ids: list[str]) -> bool:
        return Job.objects.filter(pk__in=ids, status="succeeded").count() == len(ids)

    # One job at a time first, so that waiting in the queue does not count as overhead.
    for i in range(8):
        job_id = upload(i, jpeg((200, i * 9, 30)), "serial")
        wait_until(lambda job_id=job_id: done([job_id]), 60, "a serial job")
    started = time.monotonic()
    ids = [upload(i, data, "bench") for i, data in enumerate(files)]
    wait_until(lambda: done(ids), 600, "the jobs")
    elapsed = time.monotonic() - started
    # Broker overhead per task: a job's wall time from publish to finish, less the time its
    # tasks ran (the workers log each task's run time with the job's correlation id).
    logs = "".join(w.log_tail(5_000_000) for w in workers)
    runtimes: dict[str, float] = {}
    tasks: dict[str, int] = {}
    for cid, seconds in re.findall(r"\[(serial-\d+)\] Task media_tasks\.\w+\[[^]]+\] succeeded in ([\d.]+)s", logs):
        runtimes[cid] = runtimes.get(cid, 0.0) + float(seconds)
        tasks[cid] = tasks.get(cid, 0) + 1
    gaps = []
    for job in Job.objects.filter(correlation_id__startswith="serial-"):
        cid = job.correlation_id
        if cid in runtimes and job.enqueued_at and job.finished_at:
            gaps.append(((job.finished_at - job.enqueued_at).total_seconds() - runtimes[cid]) / tasks[cid])
    gaps.sort()
    print(
        "BENCH "
        + json.dumps(
            {
                "workers": len(workers),
                "jobs": count,
                "elapsed_s": elapsed,
                "jobs_per_s": count / elapsed,
                "task_overhead_ms_median": 1000 * gaps[len(gaps) // 2] if gaps else None,
                "worker_peak_mib": max(peak_rss_mib(w.proc.pid) for w in workers),
            }
        )
    )
