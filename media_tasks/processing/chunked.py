"""Chunked transcodes of long sources: tasks.py runs, as one Celery chord across the workers, the
lead rung and the sound over the whole source (played while the rest is made: pipeline.lead, and
stored in their final place), one task per span of the picture for the other rungs; then the
join. The pieces wait in storage under chunks/<asset>/ until the join."""

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
from ..pipeline.identity import INIT, Stream
from ..pipeline.lead import REST_NICENESS, lead_rung
from ..pipeline.probe import VIDEO, MediaInfo
from ..pipeline.streams import index_ladder
from .ladder import job_choose_ladder, planned_rungs, recorded_ladder
from .loudness import job_level_sound, replace_sound
from .runtime import media_info, run_work, source_copy
from .streams import stream_key, streams_store
from .transcode import early_publisher, encode_settings
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
    if not threshold or not info or info.kind != VIDEO or not info.duration or info.duration <= threshold:
        return 0
    if len(planned_rungs(info)) < 2:
        return 0
    return len(chunk_ops.plan_spans(info.duration, settings.MEDIA_CHUNK_SECONDS, frame_rate=info.frame_rate))


def _rungs(rungs: list[video_ops.Rung]) -> tuple[video_ops.Rung, list[video_ops.Rung]]:
    """The lead rung, and the rungs the chunks encode."""
    lead = lead_rung(rungs)
    return lead, [rung for rung in rungs if rung.name != lead.name]


def _chunk_key(asset_id: uuid.UUID, rung: str, index: int) -> str:
    return storage.asset_key(storage.CHUNKS, asset_id, f"{rung}/{index:05d}.mp4")


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
    """The lead rung and the sound over the whole source, published as they are encoded (the job
    becomes playable here), then stored whole where the finished ladder keeps them (the join
    writes the manifests). A redelivered lead whose playlists are final is not redone; an
    unfinished one is encoded again (its early playlists stay)."""
    if not _enter_chunked(job_id, worker, transcode_chunk_count(job_id=job_id)):
        return False
    asset = Asset.objects.get(jobs__id=job_id)
    info = media_info(asset)
    lead, _ = _rungs(planned_rungs(info))
    streams = [lead.stream, *filter(None, [video_ops.ladder_sound(info)])]
    if all(_lead_stored(asset.id, stream) for stream in streams):
        return True

    def work(job: Job, workdir: Path) -> None:
        source = source_copy(job, workdir)
        root = workdir / "streams"
        publisher = early_publisher(job, [lead], info, root, worker)
        encode = functools.partial(
            video_ops.encode_ladder,
            source,
            info,
            [lead],
            root,
            on_progress=_still_transcoding(job_id),
            timeout=ffmpeg_timeout_s(info.duration),
            segmented=[lead.name],
        )
        try:
            try:
                encode(settings=encode_settings(encoder))
            except HardwareEncoderError as exc:
                logger.warning("job %s lead: %s failed (%s); encoding it with libx264", job_id, encoder, exc)
                encode(settings=encode_settings(CPU_ENCODER))
        finally:
            if publisher is not None:
                publisher.stop()
        _level_lead_sound(job_id, info, source, root, workdir / "loudness", worker)
        for stream in streams:  # the playlists last: they say the stream is whole
            names = [INIT, *hls_ops.playlist_segments((root / stream.playlist).read_text())]
            storage.upload_files(
                {root / stream.directory / n: stream_key(job.asset_id, f"{stream.directory}/{n}") for n in names}
            )
            storage.replace_file(root / stream.playlist, stream_key(job.asset_id, stream.playlist))
        job_mark_playable(job_id=job_id, worker=worker)  # a lead too quick for the publisher to catch

    return run_work(job_id=job_id, name=LEAD, work=work)


def _level_lead_sound(
    job_id: uuid.UUID | str, info: MediaInfo, source: Path, root: Path, workdir: Path, worker: str
) -> None:
    """The lead's sound at the loudness target, in place under `root` (processing.loudness), after
    the lead's encode: a chunked source's ladder is ready only when its chunks are, long after."""
    sound = video_ops.ladder_sound(info)
    job_level_sound(
        job_id=job_id,
        info=info,
        source=source,
        stream=sound,
        workdir=workdir,
        worker=worker,
        on_progress=_still_transcoding(job_id),
    )
    if sound is not None:
        replace_sound(root, sound, workdir)


def _lead_stored(asset_id: uuid.UUID, stream: Stream) -> bool:
    """Whether the lead task stored this stream whole: its playlist is there and ended."""
    try:
        return hls_ops.ENDLIST in storage.read_bytes(stream_key(asset_id, stream.playlist)).decode()
    except FileNotFoundError:
        return False


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
    recorded = recorded_ladder(job_id=job_id, info=info)
    if recorded is not None:
        keys = {rung.name: _chunk_key(asset.id, rung.name, index) for rung in _rungs(recorded)[1]}
        if all(storage.exists(key) for key in keys.values()):
            return True

    def work(job: Job, workdir: Path) -> None:
        source = source_copy(job, workdir)
        chosen = job_choose_ladder(
            job_id=job_id,
            info=info,
            source=source,
            workdir=workdir / "analysis",
            encode_settings=encode_settings(encoder, hw_decode),
            worker=worker,
            niceness=REST_NICENESS,
            on_progress=_still_transcoding(job_id),
        )
        rungs = _rungs(chosen)[1]
        if not rungs:  # the ladder kept only the lead, which its own task encodes whole
            return
        keys = {rung.name: _chunk_key(asset.id, rung.name, index) for rung in rungs}
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
    """Chords built before the sound moved into the lead's encode still name this member: it has
    nothing left to do."""
    return True


def job_transcode_join(*, job_id: uuid.UUID | str, worker: str = "", encoder: str = CPU_ENCODER) -> bool:
    """Join each chunked rung's pieces by stream copy into its CMAF file, put the lead rung and the
    sound beside them, store the ladder with its manifests, record it."""
    job = Job.objects.select_related("asset").filter(pk=job_id).first()
    if job is None:  # gone with its deleted item: the part that saw the delete said so
        return False
    if job.status != Status.TRANSCODING:
        logger.info("job %s: skipping the join, the job is %s", job_id, job.status)
        return False
    asset = job.asset
    info = media_info(asset)
    # Every chunk recorded the ladder before it encoded: the join reads the same.
    lead, rungs = _rungs(recorded_ladder(job_id=job_id, info=info) or planned_rungs(info))
    count = transcode_chunk_count(job_id=job_id)
    timeout = ffmpeg_timeout_s(info.duration)
    sound = video_ops.ladder_sound(info)

    def work(job: Job, workdir: Path) -> None:
        root = workdir / "streams"
        pieces = {rung.name: [workdir / "pieces" / rung.name / f"{i:05d}.mp4" for i in range(count)] for rung in rungs}
        wanted = {_chunk_key(asset.id, name, i): path for name, paths in pieces.items() for i, path in enumerate(paths)}
        for stream in [lead.stream, *filter(None, [sound])]:
            _fetch_stream(asset.id, stream, root, wanted)
        storage.download_files(wanted)
        chunk_ops.join(rungs, pieces, root, timeout=timeout)
        ladder = index_ladder(root, [rung.stream for rung in [*rungs, lead]], sound)
        # The spans were planned on the declared length: a source cut short leaves the last ones empty.
        integrity.require_complete(integrity.declared_duration(info), min(v.index.duration_s for v in ladder.videos))
        streams_store(job=job, ladder=ladder, encoder=encoder)
        job_mark_playable(job_id=job_id, worker=worker)

    if not run_work(job_id=job_id, name="join", work=work):
        return False
    storage.delete_prefix(storage.CHUNKS, asset.id)
    Job.objects.filter(pk=job_id, status=Status.TRANSCODING).update(
        progress=PROGRESS_SPANS[Status.TRANSCODING][1], updated_at=timezone.now()
    )
    return True


def _fetch_stream(asset_id: uuid.UUID, stream: Stream, root: Path, wanted: dict[str, Path]) -> None:
    """Fetch a stream the lead stored (its playlist now, its files with `wanted`) into the join's
    tree, as if the join had made it."""
    playlist = root / stream.playlist
    storage.download_file(stream_key(asset_id, stream.playlist), playlist)
    for name in [INIT, *hls_ops.playlist_segments(playlist.read_text())]:
        wanted[stream_key(asset_id, f"{stream.directory}/{name}")] = playlist.parent / name
