"""The sound at MEDIA_LOUDNESS_TARGET_LUFS: the source measured beside the lead's encode (which
plays the source's level until the ladder is stored), the sound encoded again at the target when
it is not there already, and what was found and done kept on the job (Job.loudness) with a line
in its history. The finished ladder carries the levelled sound (`sound_replaced`)."""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path

from django.conf import settings

from ..models import Job
from ..pipeline import loudness as loudness_ops
from ..pipeline.exceptions import ProcessingError
from ..pipeline.identity import Stream
from ..pipeline.probe import MediaInfo
from ..pipeline.runner import ProgressCallback
from ..pipeline.streams import Ladder, index_stream
from .transitions import job_note
from .workflow import Status, ffmpeg_timeout_s

logger = logging.getLogger(__name__)
# Encodes of the sound at most: the second adds what a biting limiter took from the first.
PASSES = 2


def job_level_sound(
    *,
    job_id: uuid.UUID | str,
    info: MediaInfo,
    source: Path,
    stream: Stream | None,
    workdir: Path,
    worker: str = "",
    niceness: int = 0,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Measure the source's sound and, where the target asks for it, encode it again as `stream`
    under `workdir` (sound_replaced puts it in the ladder); nothing there where the sound as the
    ladder's encode made it stands. A sound that cannot be measured keeps its level: the job goes on."""
    shutil.rmtree(workdir, ignore_errors=True)
    if stream is None:
        return
    target = settings.MEDIA_LOUDNESS_TARGET_LUFS
    timeout = ffmpeg_timeout_s(info.duration)
    try:
        measured = loudness_ops.measure(source, info, timeout=timeout, niceness=niceness, on_progress=on_progress)
    except ProcessingError as exc:
        _record(job_id, worker, {"target_lufs": target, "note": f"not measured: {exc}"})
        return
    chosen, result = loudness_ops.plan(measured, target), None
    if chosen.encode:
        run = {"timeout": timeout, "niceness": niceness, "on_progress": on_progress}
        try:
            chosen, result = _encoded(source, info, stream, workdir, chosen, target, run)
        except ProcessingError as exc:  # the sound the ladder's encode made still serves
            shutil.rmtree(workdir, ignore_errors=True)
            chosen = loudness_ops.Plan(0.0, False, False, f"kept at its level: encoding it again failed ({exc})")
    _record(job_id, worker, _as_record(measured, target, chosen, result))


def _encoded(
    source: Path, info: MediaInfo, stream: Stream, workdir: Path, chosen: loudness_ops.Plan, target: float, run: dict
) -> tuple[loudness_ops.Plan, loudness_ops.Loudness]:
    """The sound encoded under `chosen` and measured, then once more corrected where it missed;
    the plan it was last encoded under and what that measured."""
    for attempt in range(PASSES):
        shutil.rmtree(workdir, ignore_errors=True)
        loudness_ops.encode_sound(source, info, stream, workdir, chosen, **run)
        result = loudness_ops.measure(index_stream(workdir, stream).local_file(), **run)
        again = loudness_ops.corrected(chosen, result, target) if attempt + 1 < PASSES else None
        if again is None:
            break
        chosen = again
    return chosen, result


def sound_replaced(ladder: Ladder, workdir: Path) -> Ladder:
    """`ladder` with its sound's files replaced by those job_level_sound left under `workdir`,
    indexed again; `ladder` itself where it left none."""
    if ladder.audio is None or not replace_sound(ladder.audio.root, ladder.audio.stream, workdir):
        return ladder
    return Ladder(ladder.videos, index_stream(ladder.audio.root, ladder.audio.stream))


def replace_sound(root: Path, stream: Stream, workdir: Path) -> bool:
    """Move the levelled `stream` job_level_sound left under `workdir` over the one under `root`;
    whether it left one."""
    if not (workdir / stream.playlist).exists():
        return False
    shutil.rmtree(root / stream.directory)
    shutil.move(workdir / stream.directory, root / stream.directory)  # its playlist inside it
    return True


def _as_record(
    measured: loudness_ops.Loudness,
    target: float | None,
    chosen: loudness_ops.Plan,
    result: loudness_ops.Loudness | None,
) -> dict:
    return {
        **asdict(measured),
        "target_lufs": target,
        "gain_db": chosen.gain_db,
        "limited": chosen.limit,
        "output": asdict(result) if result else None,
        "note": chosen.note,
    }


def _record(job_id: uuid.UUID | str, worker: str, record: dict) -> None:
    """Kept once per job, as its ladder is: a redone transcode measures the same source again."""
    if Job.objects.filter(pk=job_id, loudness={}).update(loudness=record):
        logger.info("job %s: loudness %s", job_id, record)
        job_note(job_id=job_id, stage=Status.TRANSCODING, worker=worker, message=f"Loudness: {summary(record)}")


def summary(record: dict) -> str:
    """One line for people: what the source measured and what was done to it."""
    if "integrated_lufs" not in record:
        return record.get("note", "")
    found = f"{record['integrated_lufs']:g} LUFS, true peak {record['true_peak_dbtp']:g} dBTP"
    output = record.get("output")
    done = f"; now {output['integrated_lufs']:g} LUFS, {output['true_peak_dbtp']:g} dBTP" if output else ""
    return f"{found}: {record['note']}{done}."
