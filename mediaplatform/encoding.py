"""The encoding settings: the ladder, x264, the quality measurements and the per-title ladder
(docs/configuration.md; docs/per-title.md). Read by settings.py, from the environment."""

from .environment import env, env_bool, env_int, env_list


def loudness_target(value: str) -> float | None:
    """A target in LUFS between -40 and -5, or None for `off`."""
    if value.strip().lower() in {"off", "0", "false", "no", "none"}:
        return None
    target = float(value)
    if not -40 <= target <= -5:
        raise ValueError(f"MEDIA_LOUDNESS_TARGET_LUFS={value}: give a loudness between -40 and -5 LUFS, or off")
    return target


# Ladder rungs by the short side of the picture, so a portrait phone video gets
# the same tiers as a landscape one.
MEDIA_LADDER = [int(h) for h in env_list("MEDIA_LADDER", "1080,720,480,360")]
MEDIA_IMAGE_WIDTHS = [int(w) for w in env_list("MEDIA_IMAGE_WIDTHS", "320,640,1280,2048")]
MEDIA_X264_PRESET = env("MEDIA_X264_PRESET", "veryfast")
# Sources longer than this (s) are encoded in chunks of about MEDIA_CHUNK_SECONDS as a
# Celery chord across workers, then joined by stream copy (0: never chunk).
MEDIA_CHUNK_THRESHOLD_S = env_int("MEDIA_CHUNK_THRESHOLD_S", 120)
MEDIA_CHUNK_SECONDS = env_int("MEDIA_CHUNK_SECONDS", 30)
# Sources longer than this (s) get their lead rung encoded by an ffmpeg of its own, ahead of a
# viewer (pipeline/lead.py); a shorter one is encoded from one decode, ready sooner but playable
# later (measured: docs/benchmarks.md, "storage"), so by default every source gets its lead apart.
MEDIA_LEAD_APART_MIN_S = env_int("MEDIA_LEAD_APART_MIN_S", 0)
# x264 threads per encode (0: x264 decides); 1 pins each worker process to one core.
MEDIA_X264_THREADS = env_int("MEDIA_X264_THREADS", 0)
# SSIM of each rendition against the scaled source: clips up to a minute in one pass,
# longer ones over this many 2 s windows spread over them (0: not measured).
MEDIA_SSIM_WINDOWS = env_int("MEDIA_SSIM_WINDOWS", 3)
# VMAF (model v0.6.1, at the source's size) of each rendition, after SSIM, sampled the same way (0: not measured).
MEDIA_VMAF_WINDOWS = env_int("MEDIA_VMAF_WINDOWS", 3)
# A per-title ladder (media_tasks/pipeline/pertitle.py; docs/per-title.md): each rung's CRF and cap
# chosen from probe encodes of a sample, to reach a VMAF target per rung, from the top rung down
# (the last repeats). 0: the fixed ladder (CRF 23 under fixed caps) for every source.
MEDIA_PER_TITLE = env_bool("MEDIA_PER_TITLE", True)
MEDIA_VMAF_TARGETS = [float(v) for v in env_list("MEDIA_VMAF_TARGETS", "93,85,75")]
# The top rung's cap may rise to this many times the fixed one, so that hard content reaches its target.
MEDIA_PER_TITLE_CEILING = float(env("MEDIA_PER_TITLE_CEILING", "2.0"))
MEDIA_PER_TITLE_CRF_RANGE = tuple(float(v) for v in env_list("MEDIA_PER_TITLE_CRF_RANGE", "18,34"))
# The integrated loudness (EBU R128, LUFS) every rendition's sound is brought to, with true peaks at
# or below -1 dBTP (media_tasks/pipeline/loudness.py; docs/configuration.md says why -16). `off`:
# measured but kept at the source's level.
MEDIA_LOUDNESS_TARGET_LUFS = loudness_target(env("MEDIA_LOUDNESS_TARGET_LUFS", "-16"))
