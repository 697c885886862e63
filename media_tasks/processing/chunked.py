"""Chunked transcodes of long sources: tasks.py runs, as one Celery chord across the workers, the
lead rung over the whole source (played while the rest is made: pipeline.lead), one task per span
of the picture for the other rungs, and the sound; then the join. The parts wait in storage under
chunks/<asset>/ until the join."""

from __future__ import annotations

import functools
import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from .. import events, storage
from ..models import Asset, Job, JobEvent
from ..pipeline import chunks as chunk_ops
from ..pipeline import hls as hls_ops
from ..pipeline import integrity
from ..pipeline import video as video_ops
from ..pipeline.encoders import CPU_ENCODER
from ..pipeline.exceptions import HardwareEncoderError, ProcessingCancelled
from ..pipeline.lead import REST_NICENESS, lead_rung
from ..pipeline.probe import MediaInfo
from .runtime import media_info, run_work, source_copy
from .transcode import early_publisher, encode_settings, store_ladder
from .transitions import job_mark_playable
from .workflow import ENTERED_FROM, PROGRESS_SPANS, Status, ffmpeg_timeout_s

logger = logging.getLogger(__name__)

LEAD = "lead"


def transcode_chunk_count(*, job_id: uuid.UUID | str) -> int:
    """How many chunks this job's transcode is cut into; 0 when it is encoded whole (a short
    source, or a ladder of one rung: that rung is the lead, encoded whole anyway)."""
    threshold = settings.MEDIA_CHUNK_THRESHOLD_S
    asset = Asset.objects.filter(jobs__id=job_id).only("probe").first()
    info = media_info(asset) if asset and asset.probe else None
    if not threshold or not info or not info.duration or info.duration <= threshold:
        return 0
    if len(video_ops.plan_ladder(info, settings.MEDIA_LADDER)) < 2:
        return 0
    return len(chunk_ops.plan_spans(info.duration, settings.MEDIA_CHUNK_SECONDS, frame_rate=info.frame_rate))


def _rungs(info: MediaInfo) -> tuple[video_ops.Rung, list[video_ops.Rung]]:
    """The lead rung, and the rungs the chunks encode."""
    rungs = video_ops.plan_ladder(info, settings.MEDIA_LADDER)
    lead = lead_rung(rungs)
    return lead, [rung for rung in rungs if rung != lead]


def _chunk_key(asset_id: uuid.UUID, rung: str, index: int) -> str:
    return storage.asset_key(storage.CHUNKS, asset_id, f"{rung}/{index:05d}.mp4")


def _lead_key(asset_id: uuid.UUID, rung: str, name: str) -> str:
    """The lead rung's files: its MP4, its playlist and segments (`lead-<rung>/<name>`)."""
    return storage.asset_key(storage.CHUNKS, asset_id, f"{LEAD}-{rung}/{name}")


def _audio_key(asset_id: uuid.UUID, kbps: int) -> str:
    return storage.asset_key(storage.CHUNKS, asset_id, f"audio/{kbps}.m4a")


def _enter_chunked(job_id: uuid.UUID | str, worker: str, count: int) -> bool:
    """The first part to start moves the job into transcoding, from where the workflow says it is
    entered (ENTERED_FROM); the others find it there."""
    now = timezone.now()
    moved = Job.objects.filter(pk=job_id, status__in=ENTERED_FROM[Status.TRANSCODING]).update(
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


def _still_transcoding(job_id: uuid.UUID | str):
    """Stops a part's ffmpeg (within a second) once the job has been cancelled or has failed."""

    def check(fraction: float) -> None:
        if not Job.objects.filter(pk=job_id, status=Status.TRANSCODING).exists():
            raise ProcessingCancelled("The job was stopped.")

    return check


def job_transcode_lead(*, job_id: uuid.UUID | str, worker: str = "", encoder: str = CPU_ENCODER) -> bool:
    """The lead rung over the whole source, with its sound, published as it is encoded (the job
    becomes playable here), then stored whole for the join. A redelivered lead whose files are
    all stored is not redone; an unfinished one is encoded again (its early playlists stay)."""
    if not _enter_chunked(job_id, worker, transcode_chunk_count(job_id=job_id)):
        return False
    asset = Asset.objects.get(jobs__id=job_id)
    info = media_info(asset)
    lead, _ = _rungs(info)
    if storage.exists(_lead_key(asset.id, lead.name, f"{lead.name}.mp4")):  # stored last
        return True

    def work(job: Job, workdir: Path) -> None:
        source = source_copy(job, workdir)
        hls_dir = workdir / "hls"
        publisher = early_publisher(job, [lead], hls_dir, worker)
        encode = functools.partial(
            video_ops.encode_ladder,
            source,
            info,
            [lead],
            workdir / "out",
            on_progress=_still_transcoding(job_id),
            timeout=ffmpeg_timeout_s(info.duration),
            hls_dir=hls_dir,
        )
        try:
            try:
                files = encode(settings=encode_settings(encoder))
            except HardwareEncoderError as exc:
                logger.warning("job %s lead: %s failed (%s); encoding it with libx264", job_id, encoder, exc)
                files = encode(settings=encode_settings(CPU_ENCODER))
        finally:
            if publisher is not None:
                publisher.stop()
        storage.upload_files(
            {path: _lead_key(job.asset_id, lead.name, path.name) for path in (hls_dir / lead.name).iterdir()}
        )
        storage.upload_file(files[lead.name], _lead_key(job.asset_id, lead.name, f"{lead.name}.mp4"))
        job_mark_playable(job_id=job_id, worker=worker)  # a lead too quick for the publisher to catch

    return run_work(job_id=job_id, name=LEAD, work=work)


def job_transcode_chunk(
    *, job_id: uuid.UUID | str, index: int, worker: str = "", encoder: str = CPU_ENCODER, hw_decode: bool = False
) -> bool:
    """Encode one span of the picture into every rung but the lead (one decode), store the pieces.

    A redelivered chunk (its worker was lost) is encoded again and overwrites its own
    pieces only; a chunk whose pieces are all stored already is not redone.
    """
    count = transcode_chunk_count(job_id=job_id)
    if not _enter_chunked(job_id, worker, count):
        # Said only while the job exists: an item deleted mid-encode is said once, by the part that saw it.
        if Job.objects.filter(pk=job_id).exists():
            logger.info("job %s: skipping chunk %d, the job is not transcoding", job_id, index)
        return False
    asset = Asset.objects.get(jobs__id=job_id)
    info = media_info(asset)
    _, rungs = _rungs(info)
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
            niceness=REST_NICENESS,  # a lead on the same machine goes first
        )
        try:
            pieces = encode(settings=encode_settings(encoder, hw_decode))
        except HardwareEncoderError as exc:  # the GPU failed, not the file: this chunk on the CPU
            logger.warning("job %s chunk %d: %s failed (%s); encoding it with libx264", job_id, index, encoder, exc)
            pieces = encode(settings=encode_settings(CPU_ENCODER))
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


def job_transcode_audio(*, job_id: uuid.UUID | str, worker: str = "") -> bool:
    """The sound of the chunked rungs, once per audio bitrate they ask for: one more member of
    the chord, so it runs beside the picture's chunks rather than after them."""
    count = transcode_chunk_count(job_id=job_id)
    if not _enter_chunked(job_id, worker, count):
        return False
    info = media_info(Asset.objects.get(jobs__id=job_id))
    bitrates = video_ops.audio_bitrates(info, _rungs(info)[1])

    def work(job: Job, workdir: Path) -> None:
        source = source_copy(job, workdir)
        wanted = {kbps: workdir / f"{kbps}.m4a" for kbps in bitrates}
        if wanted:
            chunk_ops.encode_audio(source, info, wanted, timeout=ffmpeg_timeout_s(info.duration))
            storage.upload_files({path: _audio_key(job.asset_id, kbps) for kbps, path in wanted.items()})

    return run_work(job_id=job_id, name="audio", work=work)


def job_transcode_join(*, job_id: uuid.UUID | str, worker: str = "", encoder: str = CPU_ENCODER) -> bool:
    """Join each chunked rung's pieces and the sound by stream copy (MP4 and HLS at once), put the
    lead rung beside them, store the ladder, record it."""
    job = Job.objects.select_related("asset").filter(pk=job_id).first()
    if job is None:  # gone with its deleted item: the part that saw the delete said so
        return False
    if job.status != Status.TRANSCODING:
        logger.info("job %s: skipping the join, the job is %s", job_id, job.status)
        return False
    asset = job.asset
    info = media_info(asset)
    lead, rungs = _rungs(info)
    count = transcode_chunk_count(job_id=job_id)
    timeout = ffmpeg_timeout_s(info.duration)

    def work(job: Job, workdir: Path) -> None:
        sound = {kbps: workdir / f"audio{kbps}.m4a" for kbps in video_ops.audio_bitrates(info, rungs)}
        pieces = {rung.name: [workdir / "pieces" / rung.name / f"{i:05d}.mp4" for i in range(count)] for rung in rungs}
        wanted = {_audio_key(asset.id, kbps): path for kbps, path in sound.items()}
        for name, paths in pieces.items():
            wanted.update({_chunk_key(asset.id, name, i): path for i, path in enumerate(paths)})
        joined = {lead.name: _download_lead(asset.id, lead.name, workdir, wanted)}
        joined |= chunk_ops.join(rungs, pieces, sound, workdir / "renditions", hls_dir=workdir / "hls", timeout=timeout)
        videos = video_ops.describe_videos({rung.name: joined[rung.name] for rung in [*rungs, lead]})
        # The spans were planned on the declared length: a source cut short leaves the last ones empty.
        integrity.require_complete(integrity.declared_duration(info), min(video.duration for video in videos))
        store_ladder(job, videos, encoder, workdir / "hls")
        job_mark_playable(job_id=job_id, worker=worker)

    if not run_work(job_id=job_id, name="join", work=work):
        return False
    storage.delete_prefix(storage.CHUNKS, asset.id)
    Job.objects.filter(pk=job_id, status=Status.TRANSCODING).update(
        progress=PROGRESS_SPANS[Status.TRANSCODING][1], updated_at=timezone.now()
    )
    return True


def _download_lead(asset_id: uuid.UUID, name: str, workdir: Path, wanted: dict[str, Path]) -> Path:
    """Fetch the lead rung's MP4 and HLS (with `wanted`, the chunks' files) into the join's
    directories, as if the join had made them; its MP4's local path."""
    playlist = workdir / "hls" / name / hls_ops.PLAYLIST
    storage.download_file(_lead_key(asset_id, name, hls_ops.PLAYLIST), playlist)
    for segment in hls_ops.playlist_segments(playlist.read_text()):
        wanted[_lead_key(asset_id, name, segment)] = playlist.parent / segment
    mp4 = workdir / "renditions" / f"{name}.mp4"
    wanted[_lead_key(asset_id, name, f"{name}.mp4")] = mp4
    storage.download_files(wanted)
    return mp4
