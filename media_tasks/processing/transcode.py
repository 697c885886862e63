"""The transcode stage: the ladder from one decode, HLS from the same encode (whole or in chunks)."""

from __future__ import annotations

import functools
import logging
import shutil
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from .. import events, storage
from ..models import Asset, Job, JobEvent, Rendition
from ..pipeline import chunks as chunk_ops
from ..pipeline import hls as hls_ops
from ..pipeline import integrity
from ..pipeline import video as video_ops
from ..pipeline.encoders import CPU_ENCODER
from ..pipeline.exceptions import HardwareEncoderError, ProcessingCancelled
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
    run_work,
    source_copy,
)
from .transitions import job_mark_playable
from .workflow import PROGRESS_SPANS, Status, ffmpeg_timeout_s

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
            publisher = _early_publisher(job, rungs, workdir / "hls", worker)
            try:
                videos = video_ops.transcode_ladder(
                    source,
                    info,
                    rungs,
                    workdir / "renditions",
                    settings=_encode_settings(encoder, hw_decode),
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
        _store_ladder(job, videos, encoder, workdir / "hls")
        # An encode too quick for the publisher to catch is playable now: every client hears it.
        job_mark_playable(job_id=job_id, worker=worker)
        _keep_frames(workdir / "frames", frames_cache_path(asset.id))
        logger.info("job %s: stored in %.2f s", job_id, time.monotonic() - stored)

    return run_stage(job_id=job_id, stage=Status.TRANSCODING, worker=worker, work=work)


def _early_publisher(job: Job, rungs: list[video_ops.Rung], hls_dir: Path, worker: str) -> EarlyHlsPublisher | None:
    """Started: stores the segments as the encode closes them, and makes the job playable.

    None for a redone transcode of a job already playable: what the first try published stays
    (every segment it names is stored) until the final store overwrites the same keys, so a
    player that loaded it never sees its playlist shrink."""
    if Job.objects.filter(pk=job.pk, playable_at__isnull=False).exists():
        return None
    publisher = EarlyHlsPublisher(job_id=job.pk, asset_id=job.asset_id, rungs=rungs, hls_dir=hls_dir, worker=worker)
    publisher.start()
    return publisher


def _store_ladder(job: Job, videos: list[video_ops.VideoFile], encoder: str, hls_dir: Path) -> None:
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


def _encode_settings(encoder: str, hw_decode: bool = False) -> video_ops.EncodeSettings:
    return video_ops.EncodeSettings(
        preset=settings.MEDIA_X264_PRESET, encoder=encoder, hw_decode=hw_decode, threads=settings.MEDIA_X264_THREADS
    )


# --- Chunked transcodes of long sources --------------------------------------------
# tasks.py runs job_transcode_chunk for every span as a Celery chord across workers,
# then job_transcode_join; the chunks wait in storage under chunks/<asset>/.


def transcode_chunk_count(*, job_id: uuid.UUID | str) -> int:
    """How many chunks this job's transcode is cut into; 0 when it is encoded whole."""
    threshold = settings.MEDIA_CHUNK_THRESHOLD_S
    duration, frame_rate = Asset.objects.filter(jobs__id=job_id).values_list(
        "probe__duration", "probe__frame_rate"
    ).first() or (None, None)
    if not threshold or not duration or duration <= threshold:
        return 0
    return len(chunk_ops.plan_spans(duration, settings.MEDIA_CHUNK_SECONDS, frame_rate=frame_rate))


def _chunk_key(asset_id: uuid.UUID, rung: str, index: int) -> str:
    return storage.asset_key(storage.CHUNKS, asset_id, f"{rung}/{index:05d}.mp4")


def _enter_chunked(job_id: uuid.UUID | str, worker: str, count: int) -> bool:
    """The first chunk to start moves the job into transcoding; the others find it there."""
    now = timezone.now()
    moved = Job.objects.filter(pk=job_id, status=Status.PROBING).update(
        status=Status.TRANSCODING,
        progress=PROGRESS_SPANS[Status.TRANSCODING][0],
        worker_hostname=worker,
        updated_at=now,
    )
    if moved:
        events.publish(
            job_id=job_id,
            type=JobEvent.Type.STAGE,
            stage=Status.TRANSCODING,
            message=f"Transcoding started, in {count} chunks across the workers.",
            worker=worker,
        )
        return True
    return Job.objects.filter(pk=job_id, status=Status.TRANSCODING).exists()


def job_transcode_chunk(
    *, job_id: uuid.UUID | str, index: int, worker: str = "", encoder: str = CPU_ENCODER, hw_decode: bool = False
) -> bool:
    """Encode one span of the picture into every rung (one decode) and store the pieces.

    A redelivered chunk (its worker was lost) is encoded again and overwrites its own
    pieces only; a chunk whose pieces are all stored already is not redone.
    """
    count = transcode_chunk_count(job_id=job_id)
    if not _enter_chunked(job_id, worker, count):
        logger.info("job %s: skipping chunk %d, the job is not transcoding", job_id, index)
        return False
    asset = Asset.objects.get(jobs__id=job_id)
    info = media_info(asset)
    rungs = video_ops.plan_ladder(info, settings.MEDIA_LADDER)
    keys = {rung.name: _chunk_key(asset.id, rung.name, index) for rung in rungs}
    if all(storage.exists(key) for key in keys.values()):
        return True

    def work(job: Job, workdir: Path) -> None:
        source = source_copy(job, workdir)
        span = chunk_ops.plan_chunks(source, info, settings.MEDIA_CHUNK_SECONDS, index=index)[index]
        encode = functools.partial(
            video_ops.encode_ladder,
            source,
            info,
            rungs,
            workdir / "out",
            on_progress=_still_transcoding(job_id),
            timeout=ffmpeg_timeout_s(settings.MEDIA_CHUNK_SECONDS),
            span=span,
        )
        try:
            pieces = encode(settings=_encode_settings(encoder, hw_decode))
        except HardwareEncoderError as exc:  # the GPU failed, not the file: this chunk on the CPU
            logger.warning("job %s chunk %d: %s failed (%s); encoding it with libx264", job_id, index, encoder, exc)
            pieces = encode(settings=_encode_settings(CPU_ENCODER))
        storage.upload_files({path: keys[name] for name, path in pieces.items()})
        length = (span.end or info.duration) - span.start
        logger.info("job %s: chunk %d of %d encoded (%.1f s from %.1f s)", job_id, index, count, length, span.start)

    if not run_work(job_id=job_id, name=f"chunk{index}", work=work):
        return False
    share = max(1, (PROGRESS_SPANS[Status.TRANSCODING][1] - PROGRESS_SPANS[Status.TRANSCODING][0] - 5) // count)
    Job.objects.filter(pk=job_id, status=Status.TRANSCODING).update(
        progress=Least(F("progress") + share, PROGRESS_SPANS[Status.TRANSCODING][1] - 1), updated_at=timezone.now()
    )
    return True


def _audio_key(asset_id: uuid.UUID, kbps: int) -> str:
    return storage.asset_key(storage.CHUNKS, asset_id, f"audio/{kbps}.m4a")


def job_transcode_audio(*, job_id: uuid.UUID | str, worker: str = "") -> bool:
    """The sound of a chunked transcode, once per audio bitrate of the ladder: one more member
    of the chord, so it runs beside the picture's chunks rather than after them."""
    count = transcode_chunk_count(job_id=job_id)
    if not _enter_chunked(job_id, worker, count):
        return False
    info = media_info(Asset.objects.get(jobs__id=job_id))
    bitrates = video_ops.audio_bitrates(info, video_ops.plan_ladder(info, settings.MEDIA_LADDER))

    def work(job: Job, workdir: Path) -> None:
        source = source_copy(job, workdir)
        wanted = {kbps: workdir / f"{kbps}.m4a" for kbps in bitrates}
        if wanted:
            chunk_ops.encode_audio(source, info, wanted, timeout=ffmpeg_timeout_s(info.duration))
            storage.upload_files({path: _audio_key(job.asset_id, kbps) for kbps, path in wanted.items()})

    return run_work(job_id=job_id, name="audio", work=work)


def _still_transcoding(job_id: uuid.UUID | str):
    """Stops a chunk's ffmpeg (within a second) once the job has been cancelled or has failed."""

    def check(fraction: float) -> None:
        if not Job.objects.filter(pk=job_id, status=Status.TRANSCODING).exists():
            raise ProcessingCancelled("The job was stopped.")

    return check


def job_transcode_join(*, job_id: uuid.UUID | str, worker: str = "", encoder: str = CPU_ENCODER) -> bool:
    """Join each rung's pieces and the sound by stream copy (MP4 and HLS at once), store, record."""
    job = Job.objects.select_related("asset").get(pk=job_id)
    if job.status != Status.TRANSCODING:
        logger.info("job %s: skipping the join, the job is %s", job_id, job.status)
        return False
    asset = job.asset
    info = media_info(asset)
    rungs = video_ops.plan_ladder(info, settings.MEDIA_LADDER)
    count = transcode_chunk_count(job_id=job_id)
    timeout = ffmpeg_timeout_s(info.duration)

    def work(job: Job, workdir: Path) -> None:
        sound = {kbps: workdir / f"audio{kbps}.m4a" for kbps in video_ops.audio_bitrates(info, rungs)}
        pieces = {rung.name: [workdir / "pieces" / rung.name / f"{i:05d}.mp4" for i in range(count)] for rung in rungs}
        wanted = {_audio_key(asset.id, kbps): path for kbps, path in sound.items()}
        for name, paths in pieces.items():
            wanted.update({_chunk_key(asset.id, name, i): path for i, path in enumerate(paths)})
        storage.download_files(wanted)

        joined = chunk_ops.join(rungs, pieces, sound, workdir / "renditions", hls_dir=workdir / "hls", timeout=timeout)
        videos = video_ops.describe_videos(joined)
        # The spans were planned on the declared length: a source cut short leaves the last ones empty.
        integrity.require_complete(integrity.declared_duration(info), min(video.duration for video in videos))
        _store_ladder(job, videos, encoder, workdir / "hls")
        # A chunked transcode becomes playable once joined, before its thumbnails and finishing.
        job_mark_playable(job_id=job_id, worker=worker)

    if not run_work(job_id=job_id, name="join", work=work):
        return False
    storage.delete_prefix(storage.CHUNKS, asset.id)
    Job.objects.filter(pk=job_id, status=Status.TRANSCODING).update(
        progress=PROGRESS_SPANS[Status.TRANSCODING][1], updated_at=timezone.now()
    )
    return True
