"""Which ladder a job encodes: the per-title one (pipeline.pertitle) or the fixed one, decided once
per job and kept on it (Job.ladder), so that a retried transcode and every chunk of a chunked one
use the same rungs with the same settings. A re-encode is a new job: it applies the policy of now."""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

from django.conf import settings

from ..models import Job
from ..pipeline import pertitle
from ..pipeline import video as video_ops
from ..pipeline.exceptions import DiskFull, ProcessingError
from ..pipeline.probe import MediaInfo
from ..pipeline.runner import ProgressCallback
from .transitions import job_note
from .workflow import Status, ffmpeg_timeout_s

logger = logging.getLogger(__name__)
# Less free space than this where the analysis wrote its sample: a failure there is the disk's.
LOW_DISK_BYTES = 64 * 1024 * 1024
# Each of the analysis's ffmpeg runs reads a few seconds of sample: timed as a minute of source.
SAMPLE_TIMEOUT_BASIS_S = 60.0


def ladder_policy() -> pertitle.Policy:
    return pertitle.Policy(
        targets=tuple(settings.MEDIA_VMAF_TARGETS),
        crf_range=settings.MEDIA_PER_TITLE_CRF_RANGE,
        ceiling=settings.MEDIA_PER_TITLE_CEILING,
    )


def planned_rungs(info: MediaInfo) -> list[video_ops.Rung]:
    """Every rung the fixed ladder has for this source, largest first (the lead last)."""
    return video_ops.plan_ladder(info, settings.MEDIA_LADDER)


def recorded_ladder(*, job_id: uuid.UUID | str, info: MediaInfo) -> list[video_ops.Rung] | None:
    """The rungs as this job decided them; None before it decided."""
    recorded = Job.objects.filter(pk=job_id).values_list("ladder", flat=True).first()
    if not recorded:
        return None
    return pertitle.LadderDecision.from_dict(recorded).apply(planned_rungs(info))


def job_choose_ladder(
    *,
    job_id: uuid.UUID | str,
    info: MediaInfo,
    source: Path,
    workdir: Path,
    encode_settings: video_ops.EncodeSettings,
    worker: str = "",
    niceness: int = 0,
    on_progress: ProgressCallback | None = None,
) -> list[video_ops.Rung]:
    """The rungs to encode, with their settings: as recorded, or decided now and recorded.

    Parts of one job that decide at once (the chunks of a chunked transcode) each measure; the first
    to record wins and every part encodes what is recorded."""
    rungs = recorded_ladder(job_id=job_id, info=info)
    if rungs is not None:
        return rungs
    planned = planned_rungs(info)
    decision = _decide(info, planned, source, workdir, encode_settings, niceness, on_progress)
    if Job.objects.filter(pk=job_id, ladder={}).update(ladder=decision.as_dict()):
        logger.info("job %s: ladder %s", job_id, summary(decision))
        job_note(job_id=job_id, stage=Status.TRANSCODING, worker=worker, message=f"Ladder: {summary(decision)}")
    return recorded_ladder(job_id=job_id, info=info) or decision.apply(planned)


def _decide(
    info: MediaInfo,
    planned: list[video_ops.Rung],
    source: Path,
    workdir: Path,
    encode_settings: video_ops.EncodeSettings,
    niceness: int,
    on_progress: ProgressCallback | None,
) -> pertitle.LadderDecision:
    if not settings.MEDIA_PER_TITLE:
        return pertitle.fixed_ladder(planned, "MEDIA_PER_TITLE=0", encode_settings.crf)
    if len(planned) < 2:
        return pertitle.fixed_ladder(planned, "one rung: the lead, encoded before any analysis", encode_settings.crf)
    try:
        return pertitle.decide(
            source,
            info,
            planned,
            workdir,
            policy=ladder_policy(),
            settings=encode_settings,
            timeout=ffmpeg_timeout_s(SAMPLE_TIMEOUT_BASIS_S),
            niceness=niceness,
            on_progress=on_progress,
        )
    except ProcessingError as exc:  # the analysis is an optimisation: the fixed ladder still serves
        if shutil.disk_usage(workdir.parent).free < LOW_DISK_BYTES:
            # A sample cut short by a full disk reads as a broken file: the disk's fault, waited out.
            raise DiskFull("The ladder's analysis ran out of disk space.") from exc
        logger.warning("ladder analysis failed, encoding the fixed ladder: %s", exc)
        return pertitle.fixed_ladder(planned, f"the analysis failed ({exc})", encode_settings.crf)


def summary(decision: pertitle.LadderDecision) -> str:
    """One line for the job's history: each rung's CRF and cap, or why it was dropped."""
    rungs = [
        f"{c.name} dropped ({c.dropped})" if c.dropped else f"{c.name} CRF {c.crf:g} ≤{c.maxrate_kbps} kb/s"
        for c in decision.rungs
    ]
    return f"{decision.policy}, {decision.reason}: " + "; ".join(rungs) + "."
