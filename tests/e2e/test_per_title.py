"""The per-title ladder through a real worker on RabbitMQ and S3: what the job chose is what every
stored rung was encoded with, read back from the x264 settings each encode writes into its stream
(an SEI message), chunk by chunk for a chunked source; MEDIA_PER_TITLE=0 gives today's ladder."""

import re

import pytest

from media_tasks.models import Job
from media_tasks.pipeline import video
from media_tasks.pipeline.probe import MediaInfo
from tests.e2e.test_chunked import CHUNKED
from tests.e2e.test_upload_to_renditions import post, wait_for_job
from tests.media import make_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def x264_settings(s3, key: str) -> list[tuple[float, int]]:
    """(crf, vbv_maxrate) of every x264 encode whose output is in the stored stream `key`, in order."""
    data = s3.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    return [(float(crf), int(cap)) for crf, cap in re.findall(rb" crf=([\d.]+) .*? vbv_maxrate=(\d+) ", data)]


def rung_file(job: Job, rung: str) -> str:
    return f"hls/{job.asset_id}/video/{rung}-h264/{rung}-h264.mp4"


def test_every_chunk_encodes_the_one_ladder_the_job_chose(
    without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    # Two workers take the chunks at once: each may measure, the first to record wins, all encode it.
    one = start_worker("pt-a", concurrency=1, **CHUNKED)
    start_worker("pt-b", concurrency=1, **CHUNKED)
    clip = make_video(tmp_path / "long.mp4", width=1280, height=720, duration=12.0, tone=523, noise=True)
    job_id = post(alice_client, clip)["job_id"]
    job, _ = wait_for_job(job_id, one, timeout=300)
    assert job.status == Job.Status.SUCCEEDED, job.error
    ladder = job.ladder
    assert ladder["policy"] == "per-title", ladder
    chosen = {row["name"]: row for row in ladder["rungs"]}
    assert list(chosen) == ["720p", "480p", "360p"]
    kept = [name for name, row in chosen.items() if not row["dropped"]]
    assert sorted(job.asset.renditions.filter(kind="mp4").values_list("profile", flat=True)) == sorted(kept)
    events = list(job.events.values_list("message", flat=True))
    assert sum(m.startswith("Ladder: per-title") for m in events) == 1, events
    for name in kept[:-1]:  # the chunked rungs (the lead is encoded whole)
        row = chosen[name]
        assert x264_settings(s3_storage, rung_file(job, name)) == [(row["crf"], row["maxrate_kbps"])] * 3, name


@pytest.mark.parametrize("per_title", ["1", "0"])
def test_each_rung_is_encoded_as_decided_and_media_per_title_0_restores_the_fixed_ladder(
    per_title, without_session_worker, start_worker, alice_client, s3_storage, tmp_path
):
    worker = start_worker(f"pt-{per_title}", concurrency=1, MEDIA_PER_TITLE=per_title)
    clip = make_video(tmp_path / "clip.mp4", width=1280, height=720, duration=4.0, tone=587 + int(per_title))
    job_id = post(alice_client, clip)["job_id"]
    job, _ = wait_for_job(job_id, worker, timeout=180)
    assert job.status == Job.Status.SUCCEEDED, job.error
    fixed = {r.name: r for r in video.plan_ladder(MediaInfo.from_dict(job.asset.probe), [1080, 720, 480, 360])}
    rows = {row["name"]: row for row in job.ladder["rungs"]}
    assert list(rows) == list(fixed)
    if per_title == "0":
        assert job.ladder["policy"] == "fixed" and "MEDIA_PER_TITLE=0" in job.ladder["reason"]
        assert all(row["crf"] == video.CRF and row["maxrate_kbps"] == fixed[n].maxrate_kbps for n, row in rows.items())
    else:
        assert job.ladder["policy"] == "per-title"
        assert any(row["crf"] != video.CRF for row in rows.values()), rows
    lead = list(rows)[-1]
    for name, row in rows.items():
        if name == lead or row["dropped"]:
            continue
        assert x264_settings(s3_storage, rung_file(job, name)) == [(row["crf"], row["maxrate_kbps"])], name
