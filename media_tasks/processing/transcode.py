"""The transcode stage: every stream of the ladder encoded once, as CMAF, and stored (whole or in chunks)."""

from __future__ import annotations

import functools
import logging
import shutil
import time
import uuid
from pathlib import Path

from django.conf import settings

from ..models import Job, Rendition
from ..pipeline import loudness as loudness_ops
from ..pipeline import video as video_ops
from ..pipeline.encoders import CPU_ENCODER
from ..pipeline.integrity import declared_duration, require_complete
from ..pipeline.lead import REST_NICENESS, lead_rung, transcode_ladder_with_lead
from ..pipeline.probe import AUDIO, VIDEO, MediaInfo
from ..pipeline.streams import Ladder, index_ladder
from .early_hls import EarlyHlsPublisher
from .ladder import job_choose_ladder, planned_rungs, recorded_ladder
from .loudness import job_level_sound, sound_replaced
from .runtime import (
    COMPLETE_MARKER,
    frames_cache_path,
    media_info,
    progress_reporter,
    require_kind,
    run_stage,
    source_copy,
)
from .streams import streams_store
from .transitions import job_mark_playable
from .workflow import Status, ffmpeg_timeout_s

logger = logging.getLogger(__name__)
# The first encode of a sound alone keeps its level: it plays while the level is measured.
SOURCE_LEVEL = loudness_ops.Plan(0.0, False, True, "the source's level, until it is measured")


def job_transcode(
    *, job_id: uuid.UUID | str, worker: str = "", encoder: str = CPU_ENCODER, hw_decode: bool = False
) -> bool:
    """Encode every stream of the ladder once (the lead and the sound published as they grow),
    store them with their manifests, then record them.

    A hardware encoder that fails here raises HardwareEncoderError (the job stays in
    `transcoding`): the caller hands the work to a CPU encoder instead of failing it.
    """

    def work(job: Job, workdir: Path) -> None:
        asset = job.asset
        info = media_info(asset)
        if info.kind != AUDIO:
            require_kind(asset, VIDEO)
        rungs = [] if info.kind == AUDIO else recorded_ladder(job_id=job_id, info=info) or planned_rungs(info)
        complete = workdir / COMPLETE_MARKER
        root = workdir / "streams"
        started = time.monotonic()
        if complete.exists():  # a retry after storage was out of reach: store what was encoded
            ladder = index_ladder(root, [r.stream for r in rungs], video_ops.ladder_sound(info))
            logger.info("job %s: storing the %d rungs a previous try encoded", job_id, len(ladder.videos))
        else:
            if rungs:
                ladder = _encode(job, info, rungs, workdir, worker, encode_settings(encoder, hw_decode))
            else:
                ladder = _encode_sound(job, info, workdir, worker)
            complete.touch()
            logger.info("job %s: %d rungs encoded in %.2f s", job_id, len(ladder.videos), time.monotonic() - started)
        stored = time.monotonic()
        streams_store(job=job, ladder=ladder, encoder=encoder)
        # An encode too quick for the publisher to catch is playable now: every client hears it.
        job_mark_playable(job_id=job_id, worker=worker)
        _keep_frames(workdir / "frames", frames_cache_path(asset.id))
        logger.info("job %s: stored in %.2f s", job_id, time.monotonic() - stored)

    return run_stage(job_id=job_id, stage=Status.TRANSCODING, worker=worker, work=work)


def _encode(
    job: Job, info: MediaInfo, rungs: list[video_ops.Rung], workdir: Path, worker: str, chosen: video_ops.EncodeSettings
) -> Ladder:
    """The ladder encoded under `workdir/streams`: the lead published while it grows, the ladder
    chosen and the sound levelled beside it (processing.ladder, processing.loudness)."""
    source = source_copy(job, workdir)
    root = workdir / "streams"
    publisher = early_publisher(job, [lead_rung(rungs)], info, root, worker)
    beside = {"job_id": job.pk, "info": info, "source": source, "worker": worker, "niceness": REST_NICENESS}
    choose = functools.partial(job_choose_ladder, workdir=workdir / "analysis", encode_settings=chosen, **beside)
    level = functools.partial(
        job_level_sound, stream=video_ops.ladder_sound(info), workdir=workdir / "loudness", **beside
    )
    try:
        ladder = transcode_ladder_with_lead(
            source,
            info,
            rungs,
            root,
            settings=chosen,
            on_progress=progress_reporter(job.pk, Status.TRANSCODING),
            timeout=ffmpeg_timeout_s(info.duration),
            frames_dir=workdir / "frames",
            apart=lead_apart(info),
            choose=choose,
            also=level,
        )
    finally:
        if publisher is not None:
            publisher.stop()  # before the final store, which overwrites its playlists
    return sound_replaced(ladder, workdir / "loudness")  # the published sound played the source's level


def _encode_sound(job: Job, info: MediaInfo, workdir: Path, worker: str) -> Ladder:
    """A sound alone under `workdir/streams`: its one stream, published while it is encoded as a
    video's lead is (a minute of sound encodes in about a second), then levelled."""
    source = source_copy(job, workdir)
    root, stream = workdir / "streams", video_ops.ladder_sound(info)
    publisher = early_publisher(job, [], info, root, worker)
    report = progress_reporter(job.pk, Status.TRANSCODING)  # half the bar each; it also stops a cancelled job
    try:
        loudness_ops.encode_sound(
            source,
            info,
            stream,
            root,
            SOURCE_LEVEL,
            on_progress=lambda f: report(f / 2),
            timeout=ffmpeg_timeout_s(info.duration),
        )
    finally:
        if publisher is not None:
            publisher.stop()
    level = {"source": source, "stream": stream, "workdir": workdir / "loudness", "worker": worker}
    job_level_sound(job_id=job.pk, info=info, on_progress=lambda f: report(0.5 + f / 2), **level)
    ladder = sound_replaced(index_ladder(root, [], stream), workdir / "loudness")
    require_complete(declared_duration(info), ladder.audio.index.duration_s)
    return ladder


def lead_apart(info: MediaInfo) -> bool:
    """Whether the lead rung gets an ffmpeg of its own (pipeline.lead): not for a source so short
    that the whole ladder is out in seconds, where the second decode only costs time."""
    return (info.duration or 0.0) > settings.MEDIA_LEAD_APART_MIN_S


def early_publisher(
    job: Job, rungs: list[video_ops.Rung], info: MediaInfo, root: Path, worker: str
) -> EarlyHlsPublisher | None:
    """Started: stores the segments of `rungs` (the lead: it stays ahead of a viewer; none for a
    sound alone) and of the sound as the encode closes them, and makes the job playable.

    None for a redone transcode of a job already playable: what the first try published stays
    (every segment it names is stored) until the final store overwrites the same keys, so a
    player that loaded it never sees its playlist shrink. None too for a re-encode of a video
    that has a ladder: that one plays until the new one is stored whole, and stays if the
    re-encode is cancelled or fails."""
    if Job.objects.filter(pk=job.pk, playable_at__isnull=False).exists():
        return None
    if Rendition.objects.filter(asset_id=job.asset_id, kind=Rendition.Kind.HLS).exists():
        return None
    publisher = EarlyHlsPublisher(
        job_id=job.pk,
        asset_id=job.asset_id,
        rungs=rungs,
        audio=video_ops.ladder_sound(info),
        root=root,
        worker=worker,
    )
    publisher.start()
    return publisher


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
