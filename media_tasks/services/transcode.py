"""The transcode stage: the ladder from one decode, HLS from the same encode, SSIM per rung."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from django.conf import settings

from .. import storage
from ..models import Job, Rendition
from ..pipeline import quality as quality_ops
from ..pipeline import video as video_ops
from ..pipeline.encoders import CPU_ENCODER
from ..pipeline.exceptions import PipelineError
from ..pipeline.probe import VIDEO, MediaInfo
from .jobs import Status, _media_info, _progress_reporter, _record, _require_kind, _run_stage, _source, ffmpeg_timeout_s

logger = logging.getLogger(__name__)


def job_transcode(
    *, job_id: uuid.UUID | str, worker: str = "", encoder: str = CPU_ENCODER, hw_decode: bool = False
) -> bool:
    """Encode the ladder from one decode, package it as HLS, store both, then record them.

    A hardware encoder that fails here raises HardwareEncoderError (the job stays in
    `transcoding`): the caller hands the work to a CPU encoder instead of failing it.
    """

    def work(job: Job, workdir: Path) -> None:
        asset = job.asset
        _require_kind(asset, VIDEO)
        info = _media_info(asset)
        source = _source(job, workdir)
        rungs = video_ops.plan_ladder(info, settings.MEDIA_LADDER)
        videos = video_ops.transcode_ladder(
            source,
            info,
            rungs,
            workdir / "renditions",
            settings=video_ops.EncodeSettings(preset=settings.MEDIA_X264_PRESET, encoder=encoder, hw_decode=hw_decode),
            on_progress=_progress_reporter(job_id, Status.TRANSCODING),
            timeout=ffmpeg_timeout_s(info.duration),
        )
        hls = video_ops.package_hls(videos, workdir / "hls", timeout=ffmpeg_timeout_s(info.duration))
        ssim = _quality(source, info, videos, workdir / "ssim")
        # Upload everything first and record afterwards: a row never points at a
        # file that is missing or half written.
        keys = {v.name: storage.asset_key(storage.RENDITIONS, asset.id, f"{v.name}.mp4") for v in videos}
        for v in videos:
            storage.upload_file(v.path, keys[v.name])
        storage.upload_tree(hls.directory, storage.HLS, asset.id)
        for v in videos:
            _record(
                job,
                Rendition.Kind.MP4,
                v.name,
                keys[v.name],
                width=v.width,
                height=v.height,
                bitrate=v.bitrate,
                size_bytes=v.size_bytes,
                codec=v.codecs,
                encoder=encoder,
                ssim=ssim.get(v.name),
            )
        top = videos[0]
        _record(
            job,
            Rendition.Kind.HLS,
            "master",
            storage.asset_key(storage.HLS, asset.id, "master.m3u8"),
            width=top.width,
            height=top.height,
            bitrate=top.bitrate,
            size_bytes=sum(p.stat().st_size for p in hls.directory.rglob("*") if p.is_file()),
            codec=top.codecs,
            encoder=encoder,
        )
        # A re-encode with a shorter ladder leaves rungs that no longer exist: drop them.
        for stale in asset.renditions.filter(kind=Rendition.Kind.MP4).exclude(profile__in=[v.name for v in videos]):
            storage.delete_key(stale.storage_key)
            stale.delete()

    return _run_stage(job_id=job_id, stage=Status.TRANSCODING, worker=worker, work=work)


def _quality(source: Path, info: MediaInfo, videos: list, workdir: Path) -> dict[str, float]:
    """SSIM per rendition; a measurement that fails costs the figure, never the job."""
    if settings.MEDIA_SSIM_EVERY_NTH <= 0:
        return {}
    try:
        return quality_ops.measure_ssim(
            source,
            info,
            videos,
            workdir,
            every_nth=settings.MEDIA_SSIM_EVERY_NTH,
            timeout=ffmpeg_timeout_s(info.duration),
        )
    except (PipelineError, ValueError, OSError) as exc:
        logger.warning("SSIM measurement failed: %s", exc)
        return {}
