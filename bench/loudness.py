"""Loudness (issue 31): what measuring the source and levelling its sound cost, in CPU-seconds per
minute of source and against the ladder's own encode of the same source; and time to first
playable and to ready for a 1-minute 1080p video with a quiet voice, loudness off and on, side by
side through the real API and worker; and the same for a 1-minute sound alone (a WAV of the same
voice: audio-only uploads)."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.common import LADDER, LIMITS, encode_cost, results
from bench.playable import one_upload
from media_tasks.pipeline import loudness, video
from media_tasks.pipeline.lead import transcode_ladder_with_lead
from media_tasks.pipeline.probe import probe
from media_tasks.pipeline.streams import index_stream
from tests.media import make_sound, make_video, quiet_speech

TARGET = -16.0
TARGET_SHARE = 0.02  # the bound: at most 2% more CPU-seconds per job


def _level(clip: Path, info, out: Path) -> None:
    """What a job does past the measurement: the sound encoded at the target, then measured."""
    stream = video.ladder_sound(info)
    loudness.encode_sound(clip, info, stream, out, loudness.plan(loudness.measure(clip, info), TARGET))
    loudness.measure(index_stream(out, stream).local_file())


def bench_loudness(tmp: Path, reps: int, seconds: float) -> None:
    clip = make_video(
        tmp / "loud.mp4", width=1920, height=1080, duration=seconds, noise=True, sound=quiet_speech(seconds)
    )
    sound = make_sound(tmp / "loud.wav", sound=quiet_speech(seconds))
    info = probe(clip, LIMITS)
    rungs = video.plan_ladder(info, LADDER)
    cpu: dict[str, list[float]] = {"measure": [], "level": [], "ladder": []}
    runs: dict[str, list[dict]] = {"off": [], "on": [], "audio_off": [], "audio_on": []}
    for rep in range(reps):
        cpu["measure"].append(encode_cost(lambda: loudness.measure(clip, info))[1])
        # `level` measures again first: its own figure, less `measure`, is the encode and the check.
        cpu["level"].append(encode_cost(lambda rep=rep: _level(clip, info, tmp / f"level{rep}"))[1])
        ladder_dir = tmp / f"ladder{rep}"
        cpu["ladder"].append(encode_cost(lambda d=ladder_dir: transcode_ladder_with_lead(clip, info, rungs, d))[1])
        for name, target in (("off", "off"), ("on", str(TARGET))):  # interleaved
            env = {"MEDIA_LOUDNESS_TARGET_LUFS": target}
            runs[name].append(one_upload(clip, "fs", cancel=False, env=env))
            runs[f"audio_{name}"].append(one_upload(sound, "fs", cancel=False, env=env))
        print(f"  rep {rep + 1}: {cpu} {runs}", flush=True)
    med = statistics.median
    minutes = seconds / 60
    measure, level, ladder = med(cpu["measure"]), med(cpu["level"]), med(cpu["ladder"])
    section: dict[str, float] = {"seconds": seconds, "target_share": TARGET_SHARE}
    section["measure_cpu_s_per_min"] = measure / minutes
    section["level_cpu_s_per_min"] = (level - measure) / minutes
    section["total_cpu_s_per_min"] = level / minutes  # a measurement, the encode, the check
    section["ladder_cpu_s"] = ladder
    section["share_of_ladder"] = level / ladder
    for name, found in runs.items():
        for figure in ("playable_s", "ready_s", "worker_cpu_s"):
            section[f"{name}_{figure}"] = med(run[figure] for run in found)
    section["share_of_job"] = level / section["off_worker_cpu_s"]
    section["playable_ratio"] = section["on_playable_s"] / section["off_playable_s"]
    results["loudness"] = section
