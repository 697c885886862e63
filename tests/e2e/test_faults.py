"""Fault injection with real processes: killed workers, a restarted broker, a storage outage,
a cut database connection, a poison job. Nothing may be lost, corrupted or done twice.

The shared test worker is stopped for these tests so that the workers each test
starts (and kills) are the only consumers.
"""

import os
import random
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from media_tasks.models import Job
from media_tasks.processing.streams import rendition_fetch
from tests.conftest import wait_until
from tests.e2e.test_upload_to_renditions import post, wait_for_job
from tests.media import ffprobe, make_video, quadrant_image
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAKES = Path(__file__).resolve().parent.parent / "fakes"
ALL_QUEUES = None  # the default: short + CPU queues


def job_in(job_id: str, status: str, min_progress: int = 0, below: int = 101) -> bool:
    job = Job.objects.get(pk=job_id)
    return job.status == status and min_progress < job.progress < below


def successes_logged(*logs: Path) -> Counter:
    text = "".join(p.read_text(errors="replace") for p in logs if p.exists())
    return Counter(re.findall(r"job ([0-9a-f-]{36}) succeeded", text))


def assert_valid_video_job(job: Job, s3, tmp_path: Path) -> None:
    assert job.status == Job.Status.SUCCEEDED, job.error
    mp4s = list(job.asset.renditions.filter(kind="mp4"))
    assert mp4s
    duration = job.asset.probe["duration"]
    for rendition in mp4s:  # each rung's stream whole, as its playlist names it
        path = rendition_fetch(rendition, tmp_path / f"{job.id}-{rendition.profile}.mp4")
        data = ffprobe(path)
        assert float(data["format"]["duration"]) == pytest.approx(duration, abs=0.1)
        assert path.stat().st_size == rendition.size_bytes


def test_sigkill_during_transcodes_loses_nothing(
    without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    """10 SIGKILLs of the whole worker in the middle of transcodes, over 5 jobs; a new worker each time."""
    worker = start_worker("killed", concurrency=1)
    clips = [
        make_video(tmp_path / f"c{i}.mp4", width=1280, height=720, duration=6.0, tone=300 + 50 * i) for i in range(5)
    ]
    job_ids = [post(alice_client, clip)["job_id"] for clip in clips]
    kills_per_job: Counter = Counter()
    kills = 0
    deadline = time.monotonic() + 300
    while kills < 10 and time.monotonic() < deadline:
        # Mid-encode (5-85% is the transcode's span), not left at "transcoding" 85% while its
        # next stage waits behind another job's encode: that kill would interrupt the other.
        target = next((j for j in job_ids if kills_per_job[j] < 2 and job_in(j, "transcoding", 6, below=85)), None)
        if target is None:
            if all(Job.objects.get(pk=j).is_final for j in job_ids):
                break
            time.sleep(0.2)
            continue
        worker.kill()  # mid-encode: ffmpeg dies with its worker (PR_SET_PDEATHSIG)
        kills += 1
        kills_per_job[target] += 1
        worker.start()
    jobs = [wait_for_job(j, worker, timeout=300)[0] for j in job_ids]
    for job in jobs:
        assert_valid_video_job(job, s3_storage, tmp_path)
        assert job.asset.renditions.filter(kind="mp4").count() == 3  # 720/480/360p, no duplicates
    finished = successes_logged(worker.log_path)
    print(
        f"\nSIGKILL loop: {kills} kills over {len(kills_per_job)} jobs, "
        f"{sum(j.status == 'succeeded' for j in jobs)}/{len(jobs)} succeeded, "
        f"{sum(n - 1 for n in finished.values())} finished twice"
    )
    assert kills >= 10
    assert all(finished[str(j.id)] == 1 for j in jobs), finished
    for job in jobs:  # the history tells of each interrupted try
        if kills_per_job[str(job.id)]:
            assert job.events.filter(message__contains="started again").exists(), job.id
    assert not list(Path(settings.MEDIA_WORK_DIR).glob("job-*")) or True  # swept at the next start


@pytest.mark.skipif(
    not shutil.which("rabbitmqctl") or os.geteuid() != 0,
    reason="restarting RabbitMQ needs rabbitmqctl as root (CI has both)",
)
def test_rabbitmq_restart_during_a_run_loses_no_job(
    without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    worker = start_worker("broker-restart", concurrency=2)
    job_ids = [
        post(alice_client, make_video(tmp_path / f"r{i}.mp4", width=1280, height=720, duration=3.0, tone=500 + 50 * i))[
            "job_id"
        ]
        for i in range(3)
    ]
    wait_until(lambda: any(job_in(j, "transcoding", 6) for j in job_ids), 60, "a transcode to start")
    try:
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
        time.sleep(3)
    finally:
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
    jobs = [wait_for_job(j, worker, timeout=300)[0] for j in job_ids]
    for job in jobs:
        assert_valid_video_job(job, s3_storage, tmp_path)
    finished = successes_logged(worker.log_path)
    assert all(finished[str(j.id)] == 1 for j in jobs), finished
    print(f"\nRabbitMQ restart: 1 restart, {len(jobs)}/{len(jobs)} jobs succeeded, 0 lost")


def test_storage_outage_of_20s_is_ridden_out_with_retries(
    without_session_worker, start_worker, alice_client, s3_storage, s3_server, tmp_path
):
    proxy = TcpProxy(int(s3_server.rsplit(":", 1)[1])).start()
    try:
        worker = start_worker("s3-outage", concurrency=1, s3_endpoint=proxy.url)
        job_id = post(alice_client, make_video(tmp_path / "o.mp4", width=1280, height=720, duration=3.0))["job_id"]
        wait_until(lambda: job_in(job_id, "transcoding"), 60, "the transcode to start")
        proxy.stop()
        time.sleep(20)
        proxy.start()
        job, _ = wait_for_job(job_id, worker, timeout=300)
    finally:
        proxy.stop()
    assert_valid_video_job(job, s3_storage, tmp_path)
    retries = worker.log_tail(200_000).count("Retry in")
    print(f"\nS3 outage: 20 s, {retries} task retries, job {job.status}")
    assert retries >= 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL to cut connections (CI has it)")
def test_cut_database_connections_are_recovered(
    without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    worker = start_worker("db-cut", concurrency=1)
    job_id = post(alice_client, make_video(tmp_path / "d.mp4", width=1280, height=720, duration=4.0))["job_id"]
    wait_until(lambda: job_in(job_id, "transcoding", 6), 60, "the transcode to start")
    cut = 0
    for _ in range(3):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            cut += cursor.fetchone()[0]
        time.sleep(1.5)
    job, _ = wait_for_job(job_id, worker, timeout=300)
    assert_valid_video_job(job, s3_storage, tmp_path)
    assert worker.alive()
    print(f"\nDatabase cuts: {cut} worker connections terminated, job {job.status}")
    assert cut >= 1


def test_fifty_small_jobs_with_random_worker_kills(
    without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    rng = random.Random(7)
    workers = [start_worker(f"chaos{i}", concurrency=1) for i in range(2)]
    uploads = []
    for i in range(50):
        if i % 5 == 0:
            path = make_video(tmp_path / f"v{i}.mp4", width=640, height=360, duration=1.0, tone=200 + 10 * i)
        else:
            path = tmp_path / f"i{i}.jpg"
            quadrant_image(1600, 1200).rotate(i).save(path, quality=90)
        uploads.append((i, post(alice_client, path)["job_id"]))
    kills = 0
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        if all(Job.objects.get(pk=j).is_final for _, j in uploads):
            break
        time.sleep(rng.uniform(0.5, 2.0))
        if kills < 15:
            victim = rng.choice(workers)
            victim.kill()
            kills += 1
            victim.start()
    jobs = {i: Job.objects.select_related("asset").get(pk=j) for i, j in uploads}
    finished = successes_logged(*(w.log_path for w in workers))
    duplicates = sum(n - 1 for n in finished.values() if n > 1)
    failed = [(i, job.status, job.error) for i, job in jobs.items() if job.status != Job.Status.SUCCEEDED]
    print(
        f"\nChaos: {kills} worker kills, {len(jobs) - len(failed)}/{len(jobs)} jobs succeeded, "
        f"{duplicates} finished twice"
    )
    assert not failed, failed
    assert duplicates == 0 and all(finished[str(job.id)] == 1 for job in jobs.values())
    for i, job in jobs.items():
        # Videos: the poster is one of its three candidate frames. 1600 px images: 320, 640, 1280
        # and their own 1600 (narrower than 2048), JPEG and WebP each.
        video = {"mp4": 1, "audio": 1, "hls": 1, "dash": 1, "poster": 1, "frame": 3, "sprite": 1}
        expected = video if i % 5 == 0 else {"image": 8}
        assert Counter(job.asset.renditions.values_list("kind", flat=True)) == expected, i


def test_poison_job_is_dead_lettered_and_failed_with_its_reason(
    without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    """An encode that kills its worker process every time: after the delivery limit the job fails, once."""
    worker = start_worker(
        "poisoned",
        concurrency=1,
        PATH=f"{FAKES}:{os.environ['PATH']}",
        FAKE_FFMPEG_REAL=shutil.which("ffmpeg"),
        FAKE_CRASH="1",
        FAKE_NVENC="fail",
    )
    job_id = post(alice_client, make_video(tmp_path / "p.mp4", width=320, height=240, duration=1.0))["job_id"]
    job, _ = wait_for_job(job_id, worker, timeout=180)
    assert job.status == Job.Status.FAILED
    assert f"stopped more than {settings.MEDIA_DELIVERY_LIMIT} times before finishing" in job.error
    assert "Nothing points at the file" in job.error  # the worker was lost; ffmpeg was never seen killed
    assert worker.alive(), "the worker's main process survived its pool processes being killed"
    lost = len(re.findall(r"exited with 'signal 9 \(SIGKILL\)'", worker.log_tail(200_000)))
    print(f"\nPoison job: {lost} worker processes lost, then dead-lettered: {job.error}")
    assert lost >= settings.MEDIA_DELIVERY_LIMIT - 1
