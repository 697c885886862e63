"""A job's life in one place: the stages per kind and their order, which state each stage is
entered from, what runs next after any state, the progress each stage fills, its time limits
and its queue. The chain builder (tasks), the rescue and the status timeline all ask here, so
a new stage is one entry in PLANS (plus its own module and task)."""

from __future__ import annotations

from django.conf import settings

from ..models import Job
from ..pipeline.probe import AUDIO, IMAGE, VIDEO

Status = Job.Status

# After the job is ready: the SSIM and VMAF measurement of a video's ladder (nobody waits for it).
QUALITY = "quality"

# The stages each kind goes through, in order. The kind is known only after probing.
PLANS: dict[str, tuple[str, ...]] = {
    VIDEO: (Status.PROBING, Status.TRANSCODING, Status.THUMBNAILING, Status.FINALIZING),
    IMAGE: (Status.PROBING, Status.PROCESSING, Status.FINALIZING),
    # A sound alone: its stream encoded (playable as it grows), then its waveform and cover art.
    AUDIO: (Status.PROBING, Status.TRANSCODING, Status.THUMBNAILING, Status.FINALIZING),
}
UNKNOWN_PLAN: tuple[str, ...] = (Status.PROBING,)

# The Celery task that runs each stage (the transcode may become a chord of chunks: tasks.py).
TASK_NAMES: dict[str, str] = {
    Status.PROBING: "media_tasks.probe",
    Status.TRANSCODING: "media_tasks.transcode",
    Status.THUMBNAILING: "media_tasks.thumbnails",
    Status.PROCESSING: "media_tasks.image_variants",
    Status.FINALIZING: "media_tasks.finalize",
    QUALITY: "media_tasks.quality",
}

# Which share of the progress bar each stage fills.
PROGRESS_SPANS: dict[str, tuple[int, int]] = {
    Status.PROBING: (0, 5),
    Status.TRANSCODING: (5, 85),
    Status.THUMBNAILING: (85, 95),
    Status.PROCESSING: (5, 95),
    Status.FINALIZING: (95, 100),
}


# The playable point of a video: once its lead rung (the lowest, encoded apart and several times
# faster than real time: pipeline.lead) and its sound have this many segments stored each, a
# master naming them is published and the job is marked playable. The picture's first segment
# lasts a second (pipeline.tee.HLS_FIRST_SEGMENT_SECONDS), the sound's two. The other rungs join
# the master when they are done.
PLAYABLE_SEGMENTS = 1
PLAYABLE_STAGE = Status.TRANSCODING
# The states of a video after the playable stage: its whole ladder is stored, so an early player
# loads the master again to offer every quality (player.js reads them from the page).
LADDER_STORED: tuple[str, ...] = PLANS[VIDEO][PLANS[VIDEO].index(PLAYABLE_STAGE) + 1 :]
# How often the transcode looks for new segments to store while ffmpeg runs (seconds).
EARLY_HLS_POLL_S = 0.2


def is_playable(stored_segments: list[int]) -> bool:
    """Whether streams published while they are encoded (the lead rung, the sound) that have these
    many segments stored each may be played."""
    return bool(stored_segments) and min(stored_segments) >= PLAYABLE_SEGMENTS


def _entered_from() -> dict[str, tuple[str, ...]]:
    sources: dict[str, set[str]] = {}
    for plan in PLANS.values():
        for before, stage in zip((Status.QUEUED, *plan), plan, strict=False):
            sources.setdefault(stage, set()).add(before)
    return {stage: tuple(sorted(before)) for stage, before in sources.items()}


# The states a stage may be entered from. A stage may also be re-entered from itself: that is
# a redelivery after a worker died, and the work is redone.
ENTERED_FROM = _entered_from()
# A job in one of these is being worked on; a stale heartbeat there means a lost worker.
RUNNING_STATUSES = tuple(ENTERED_FROM)


def plan(kind: str) -> tuple[str, ...]:
    """The job states a job of this kind goes through, in order (probing alone while unknown)."""
    return PLANS.get(kind, UNKNOWN_PLAN)


def quality_metrics() -> tuple[str, ...]:
    """The figures measured on each video rendition after ready ("ssim", "vmaf": Rendition fields),
    those whose windows setting is not 0."""
    windows = {"ssim": settings.MEDIA_SSIM_WINDOWS, "vmaf": settings.MEDIA_VMAF_WINDOWS}
    return tuple(metric for metric, count in windows.items() if count > 0)


def quality_follows(kind: str) -> bool:
    """Whether the job's chain ends with the quality measurement (SSIM, VMAF), after it is ready."""
    return kind == VIDEO and bool(quality_metrics())


def stages_from(kind: str, status: str, *, inclusive: bool) -> list[str]:
    """The stages still to run after `status` (or from it, to run it again), then quality.

    The chain after a probe asks for the stages after probing; the rescue of a job whose worker
    went silent asks for the stages from the one it was in.
    """
    if status == Status.PROBING and inclusive:
        return [Status.PROBING]  # what follows is decided by what the probe finds
    order = plan(kind)
    if status not in order:
        return []
    start = order.index(status) + (0 if inclusive else 1)
    return [*order[start:], *((QUALITY,) if quality_follows(kind) else ())]


def ffmpeg_timeout_s(duration_s: float | None) -> float:
    """How long one ffmpeg run over a source this long may take: 10× real time plus 10 minutes.

    Generous, so only a stuck ffmpeg hits it; the Celery limits below are built on it, so
    ffmpeg's own timeout always comes first.
    """
    return 600 + 10 * (duration_s or 0)


def stage_time_limits(duration_s: float | None) -> dict[str, float]:
    """Celery soft/hard limits for a stage over a source this long.

    ffmpeg's own timeout plus 5 minutes for download, packaging and uploads. RabbitMQ's
    consumer_timeout must exceed the hard limit for the longest source allowed
    (docs/reliability-and-security.md; deploy/rabbitmq.conf).
    """
    soft = ffmpeg_timeout_s(duration_s) + 300
    return {"soft_time_limit": soft, "time_limit": soft + 120}


def chunk_time_limits() -> dict[str, float]:
    return stage_time_limits(settings.MEDIA_CHUNK_SECONDS)


# The stages whose run time grows with the source; the others are short whatever its length.
_SCALED = (Status.TRANSCODING, Status.THUMBNAILING, QUALITY)
PROBE_TIME_LIMITS = {"soft_time_limit": 600, "time_limit": 720}


def time_limits(stage: str, duration_s: float | None) -> dict[str, float]:
    """The Celery limits of one stage of a job whose source lasts `duration_s`."""
    if stage == Status.PROBING:
        return PROBE_TIME_LIMITS
    return stage_time_limits(duration_s) if stage in _SCALED else {}


def transcode_queue(*, gpu_online: bool, kind: str = VIDEO) -> str:
    """The GPU queue while a GPU worker is live, else the CPU queue. If every GPU worker then
    vanishes, RabbitMQ dead-letters the waiting message to the CPU queue (MEDIA_GPU_QUEUE_TTL_S).
    A sound alone has no picture for a GPU: the CPU queue."""
    gpu = gpu_online and kind != AUDIO
    return settings.MEDIA_QUEUE_TRANSCODE_GPU if gpu else settings.MEDIA_QUEUE_TRANSCODE_CPU


def cpu_queue() -> str:
    """Where the parts of a transcode that only a CPU does go: the sound, the join, the fallback."""
    return settings.MEDIA_QUEUE_TRANSCODE_CPU
