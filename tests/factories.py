"""Rows made the way the product makes them, for tests that need an asset without an encode."""

from __future__ import annotations

import io
from typing import Any

from media_tasks import services
from media_tasks.models import Asset, Job, Rendition


def video_with_frame(*, owner, job_status: str | None = None, **fields: Any) -> Asset:
    """One of `owner`'s videos, uploaded through the service (its job not sent: patch
    `media_tasks.tasks.job_enqueue`), with one frame the encode took (a poster candidate).
    `fields` are set on the asset; `job_status` on its job."""
    job = services.asset_create(owner=owner, fileobj=io.BytesIO(b"x" * 10), filename="clip.mp4", size_bytes=10).job
    Asset.objects.filter(pk=job.asset_id).update(kind=Asset.Kind.VIDEO, **fields)
    if job_status:
        Job.objects.filter(pk=job.id).update(status=job_status)
    Rendition.objects.create(
        asset_id=job.asset_id,
        kind=Rendition.Kind.FRAME,
        profile="frame-30",
        width=2,
        height=2,
        storage_key=f"thumbs/{job.asset_id}/frame-30.jpg",
    )
    return Asset.objects.get(pk=job.asset_id)


# A per-title decision as pipeline.pertitle writes it on Job.ladder (issue 30): 720p dropped.
LADDER = {
    "policy": "per-title",
    "reason": "chosen from 6.0 s of samples",
    "sample_s": 6.0,
    "analysis_cpu_s": 21.3,
    "rungs": [
        {
            "name": "1080p",
            "crf": 26.5,
            "maxrate_kbps": 5000,
            "target_vmaf": 94.0,
            "predicted_vmaf": 94.2,
            "predicted_kbps": 2100,
            "dropped": "",
            "note": "aimed at VMAF 94",
        },
        {
            "name": "720p",
            "crf": 25.0,
            "maxrate_kbps": 2200,
            "target_vmaf": 90.0,
            "predicted_vmaf": 83.1,
            "predicted_kbps": 900,
            "dropped": "within 1 VMAF point of 480p (83.1 against 82.6) at more bits (900 against 600 kb/s)",
            "note": "",
        },
        {
            "name": "480p",
            "crf": 24.0,
            "maxrate_kbps": 1000,
            "target_vmaf": 82.0,
            "predicted_vmaf": 82.6,
            "predicted_kbps": 600,
            "dropped": "",
            "note": "",
        },
        {
            "name": "360p",
            "crf": 23,
            "maxrate_kbps": 552,
            "target_vmaf": None,
            "predicted_vmaf": 70.1,
            "predicted_kbps": None,
            "dropped": "",
            "note": "the lead rung: encoded before the analysis, with the fixed recipe",
        },
    ],
}


def video_with_ladder(*, owner, ladder: dict[str, Any] = LADDER, vmaf: dict[str, float | None]) -> Asset:
    """A ready video (video_with_frame) whose job chose `ladder`, with an MP4 rung for each name in
    `vmaf` (its measured VMAF, None: not yet) and the HLS master."""
    asset = video_with_frame(owner=owner, job_status=Job.Status.SUCCEEDED)
    Job.objects.filter(asset=asset).update(ladder=ladder)
    heights = {"1080p": 1080, "720p": 720, "480p": 480, "360p": 360}
    for profile, score in vmaf.items():
        height = heights[profile]
        Rendition.objects.create(
            asset=asset,
            kind=Rendition.Kind.MP4,
            profile=profile,
            width=height * 16 // 9,
            height=height,
            bitrate=height * 2000,
            size_bytes=height * 1000,
            codec="avc1.64001f",
            encoder="libx264",
            storage_key=f"hls/{asset.id}/video/{profile}-h264/index.m3u8",
            ssim=0.98 if score is not None else None,
            vmaf=score,
        )
    Rendition.objects.create(
        asset=asset,
        kind=Rendition.Kind.HLS,
        profile="master",
        width=1920,
        height=1080,
        storage_key=f"hls/{asset.id}/master.m3u8",
    )
    return asset
