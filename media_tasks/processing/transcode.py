"""The transcode stage: the ladder from one decode, HLS from the same encode (whole or in chunks)."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from pathlib import Path

from django.conf import settings

from .. import storage
from ..models import Job, Rendition
from ..pipeline import hls as hls_ops
from ..pipeline import video as video_ops
from ..pipeline.encoders import CPU_ENCODER
from ..pipeline.lead import lead_rung, transcode_ladder_with_lead
from ..pipeline.probe import VIDEO
from .early_hls import EarlyHlsPublisher
from .runtime import (
    COMPLETE_MARKER,
    frames_cache_path,
    media_info,
    progress_reporter,
    record,
    require_kind,
    run_stage,
    source_copy,
)
from .transitions import job_mark_playable
from .workflow import Status, ffmpeg_timeout_s

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
        require_kind(asset, VIDEO)
        info = media_info(asset)
        rungs = video_ops.plan_ladder(info, settings.MEDIA_LADDER)
        complete = workdir / COMPLETE_MARKER
        started = time.monotonic()
        if complete.exists():  # a retry after storage was out of reach: store what was encoded
            videos = video_ops.describe_videos({r.name: workdir / "renditions" / f"{r.name}.mp4" for r in rungs})
            logger.info("job %s: storing the %d rungs a previous try encoded", job_id, len(videos))
        else:
            source = source_copy(job, workdir)
            publisher = early_publisher(job, [lead_rung(rungs)], workdir / "hls", worker)
            try:
                videos = transcode_ladder_with_lead(
                    source,
                    info,
                    rungs,
                    workdir / "renditions",
                    settings=encode_settings(encoder, hw_decode),
                    on_progress=progress_reporter(job_id, Status.TRANSCODING),
                    timeout=ffmpeg_timeout_s(info.duration),
                    hls_dir=workdir / "hls",
                    frames_dir=workdir / "frames",
                )
            finally:
                if publisher is not None:
                    publisher.stop()  # before the final store, which overwrites its playlists
            complete.touch()
            logger.info("job %s: %d rungs encoded in %.2f s", job_id, len(videos), time.monotonic() - started)
        stored = time.monotonic()
        store_ladder(job, videos, encoder, workdir / "hls")
        # An encode too quick for the publisher to catch is playable now: every client hears it.
        job_mark_playable(job_id=job_id, worker=worker)
        _keep_frames(workdir / "frames", frames_cache_path(asset.id))
        logger.info("job %s: stored in %.2f s", job_id, time.monotonic() - stored)

    return run_stage(job_id=job_id, stage=Status.TRANSCODING, worker=worker, work=work)


def early_publisher(job: Job, rungs: list[video_ops.Rung], hls_dir: Path, worker: str) -> EarlyHlsPublisher | None:
    """Started: stores the segments of `rungs` (the lead rung, which stays ahead of a viewer) as
    the encode closes them, and makes the job playable.

    None for a redone transcode of a job already playable: what the first try published stays
    (every segment it names is stored) until the final store overwrites the same keys, so a
    player that loaded it never sees its playlist shrink. None too for a re-encode of a video
    that has a ladder: that one plays until the new one is stored whole, and stays if the
    re-encode is cancelled or fails."""
    if Job.objects.filter(pk=job.pk, playable_at__isnull=False).exists():
        return None
    if Rendition.objects.filter(asset_id=job.asset_id, kind=Rendition.Kind.HLS).exists():
        return None
    publisher = EarlyHlsPublisher(job_id=job.pk, asset_id=job.asset_id, rungs=rungs, hls_dir=hls_dir, worker=worker)
    publisher.start()
    return publisher


def store_ladder(job: Job, videos: list[video_ops.VideoFile], encoder: str, hls_dir: Path) -> None:
    """The master playlist, then every file uploaded, then the rows.

    Upload everything first and record afterwards: a row never points at a file that
    is missing or half written. The HLS may be played already (early_hls), so its files go
    in the order a player reads them backwards: segments, then the rungs' playlists, then
    the master. SSIM is measured after the job is ready (processing.quality).
    """
    asset = job.asset
    hls = hls_ops.write_hls_master(videos, hls_dir)
    keys = {v.name: storage.asset_key(storage.RENDITIONS, asset.id, f"{v.name}.mp4") for v in videos}
    tree = storage.tree_keys(hls.directory, storage.HLS, asset.id)
    playlists = {path: key for path, key in tree.items() if path.suffix == ".m3u8"}
    storage.upload_files(
        {**{v.path: keys[v.name] for v in videos}, **{p: k for p, k in tree.items() if p not in playlists}}
    )
    for path in sorted(playlists, key=lambda p: p == hls.master):  # the master last
        storage.replace_file(path, playlists[path])
    for v in videos:
        record(
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
            ssim=None,  # this encode is not measured yet
        )
    top = videos[0]
    record(
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


def _keep_frames(frames: Path, cached: Path) -> None:
    """Hand the thumbnail frames of this encode (none after a GPU decode) to the thumbnails stage.

    Moved in whole, after the stage's work is stored: a killed or redone transcode never
    leaves a partial set where the thumbnails stage would take it.
    """
    shutil.rmtree(cached, ignore_errors=True)
    if frames.is_dir():
        cached.parent.mkdir(parents=True, exist_ok=True)
        frames.replace(cached)


def encode_settings(encoder: str, hw_decode: bool = False) -> video_ops.EncodeSettings:
    return video_ops.EncodeSettings(
        preset=settings.MEDIA_X264_PRESET, encoder=encoder, hw_decode=hw_decode, threads=settings.MEDIA_X264_THREADS
    )
