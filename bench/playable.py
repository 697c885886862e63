"""Time to first playable (issue 21): upload completed → the API's HLS link names a variant whose
first segment fetches and decodes, next to time to ready, on both storage backends; and what
playing early costs the ladder's encode (its wall time and CPU-seconds against today's)."""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import LADDER, LIMITS, encode_cost, results
from media_tasks.pipeline import video
from media_tasks.pipeline.lead import transcode_ladder_with_lead
from media_tasks.pipeline.probe import probe
from tests.media import make_video

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/e2e/test_playable_bench.py::test_time_to_playable"
# The HLS options of the encode before issue 21: one VOD playlist written at the end, 4 s segments.
_EVENT_HLS = re.compile(
    r"hls_time=\d+:hls_init_time=\d+:hls_playlist_type=event:hls_flags=independent_segments\+temp_file"
)
_VOD_HLS = "hls_time=4:hls_playlist_type=vod:hls_flags=independent_segments"


def one_upload(clip: Path, backend: str, cancel: bool, env: dict[str, str] | None = None) -> dict:
    """One e2e run (a real worker of concurrency 2, RabbitMQ, the API), in its own pytest; `env`
    reaches the worker's settings."""
    env = {**os.environ, **(env or {}), "MEDIA_BENCH": "1", "BENCH_CLIP": str(clip), "BENCH_STORAGE": backend}
    env["BENCH_CANCEL"] = "1" if cancel else "0"
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:logging", TEST]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if proc.returncode or not line:
        sys.exit(f"time-to-playable run failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return json.loads(line[6:])


def today_command(clip: Path, out: Path) -> list[str]:
    """The encode before issue 21: one ffmpeg for the ladder, one VOD playlist per rung written at
    the end, 4 s segments, no forced first keyframes."""
    info = probe(clip, LIMITS)
    out.mkdir(parents=True, exist_ok=True)
    rungs = video.plan_ladder(info, LADDER)
    cmd = video.encode_ladder_command(clip.absolute(), info, rungs, out, video.EncodeSettings())
    kept: list[str] = []
    skip = False
    for arg in cmd:
        if skip:
            skip = False
        elif arg.startswith("-force_key_frames"):
            skip = True
        else:
            kept.append(_EVENT_HLS.sub(_VOD_HLS, arg))
    return kept


def playable_encode(clip: Path, out: Path) -> None:
    """The platform's encode: the lead rung apart, EVENT HLS with a short first segment."""
    info = probe(clip, LIMITS)
    rungs = video.plan_ladder(info, LADDER)
    transcode_ladder_with_lead(clip, info, rungs, out)


def long_source(tmp: Path, seconds: float) -> Path:
    """A 1080p30 source of `seconds` (whole minutes): one minute of the clean test pattern, encoded
    once and joined to itself by stream copy. 10 minutes of the noisy one would be 1.7 GB and
    take minutes to make; this is 200 MB and takes half a minute."""
    minute = make_video(tmp / "minute.mp4", width=1920, height=1080, duration=60, tone=523, preset="veryfast")
    listing = tmp / "long.txt"
    listing.write_text(f"file '{minute}'\n" * max(1, round(seconds / 60)))
    long = tmp / "long.mp4"
    concat = ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing)]
    subprocess.run([*concat, "-c", "copy", "-movflags", "+faststart", str(long)], check=True)
    return long


def bench_playable(tmp: Path, reps: int, seconds: float, long_seconds: float) -> None:
    clip = make_video(tmp / "playable.mp4", width=1920, height=1080, duration=seconds, noise=True)
    long_clip = long_source(tmp, long_seconds) if long_seconds else None
    cost: dict[str, tuple[list[float], list[float]]] = {"today": ([], []), "playable": ([], [])}
    runs: dict[str, list[dict]] = {"fs": [], "s3": [], "fs_long": [], "s3_long": []}
    for rep in range(reps):
        for name in cost:  # interleaved: today, playable, today, ...
            out = tmp / f"{name}{rep}"
            if name == "today":
                cmd = today_command(clip, out)
                wall, cpu = encode_cost(lambda cmd=cmd, out=out: subprocess.run(cmd, check=True, cwd=out))
            else:
                wall, cpu = encode_cost(lambda out=out: playable_encode(clip, out))
            cost[name][0].append(wall)
            cost[name][1].append(cpu)
            shutil.rmtree(out)
        for backend in ("fs", "s3"):
            runs[backend].append(one_upload(clip, backend, cancel=False))
            if long_clip:
                runs[f"{backend}_long"].append(one_upload(long_clip, backend, cancel=True))
        print(f"  rep {rep + 1}: {json.dumps({k: v[-1] for k, v in runs.items() if v})}", flush=True)
    med = statistics.median
    section: dict[str, float] = {"seconds": seconds, "long_seconds": long_seconds}
    for name, (walls, cpus) in cost.items():
        section[f"encode_{name}_s"], section[f"encode_{name}_cpu_s"] = med(walls), med(cpus)
    section["encode_wall_ratio"] = section["encode_playable_s"] / section["encode_today_s"]
    section["encode_cpu_ratio"] = section["encode_playable_cpu_s"] / section["encode_today_cpu_s"]
    for key, found in runs.items():
        for figure in ("playable_s", "marked_s", "ready_s", "ladder_s", "worker_cpu_s"):
            values = [run[figure] for run in found if figure in run]
            if values:
                section[f"{key}_{figure}"] = med(values)
    results["playable"] = section
