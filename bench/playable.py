"""Time to first playable (issue 21): upload completed → the API's HLS link names a variant whose
first segment fetches and decodes, next to time to ready, on both storage backends; and what
playing early costs the ladder's encode (its wall time and CPU-seconds against today's)."""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import LADDER, LIMITS, results
from media_tasks.pipeline import video
from media_tasks.pipeline.probe import probe
from tests.media import make_video

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/e2e/test_playable_bench.py::test_time_to_playable"
# The HLS options of the encode before issue 21: one VOD playlist written at the end, 4 s segments.
_EVENT_HLS = re.compile(
    r"hls_time=\d+:hls_init_time=\d+:hls_playlist_type=event:hls_flags=independent_segments\+temp_file"
)
_VOD_HLS = "hls_time=4:hls_playlist_type=vod:hls_flags=independent_segments"


def one_upload(seconds: float, backend: str, cancel: bool) -> dict:
    """One e2e run (a real worker of concurrency 2, RabbitMQ, the API), in its own pytest."""
    env = {**os.environ, "MEDIA_BENCH": "1", "BENCH_SECONDS": str(seconds), "BENCH_STORAGE": backend}
    env["BENCH_CANCEL"] = "1" if cancel else "0"
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:logging", TEST]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if proc.returncode or not line:
        sys.exit(f"time-to-playable run failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return json.loads(line[6:])


def ladder_command(clip: Path, out: Path, *, today: bool) -> list[str]:
    """The platform's encode (EVENT HLS, forced first keyframes), or today's with `today`."""
    info = probe(clip, LIMITS)
    out.mkdir(parents=True, exist_ok=True)
    rungs = video.plan_ladder(info, LADDER)
    cmd = video.encode_ladder_command(clip.absolute(), info, rungs, out, video.EncodeSettings(), hls_dir=out / "hls")
    if not today:
        return cmd
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


def encode_cost(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU-seconds (user + system) of one ffmpeg run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=cwd)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_playable(tmp: Path, reps: int, seconds: float, long_seconds: float) -> None:
    clip = make_video(tmp / "playable.mp4", width=1920, height=1080, duration=seconds, noise=True)
    cost: dict[str, tuple[list[float], list[float]]] = {"today": ([], []), "playable": ([], [])}
    runs: dict[str, list[dict]] = {"fs": [], "s3": [], "fs_long": [], "s3_long": []}
    for rep in range(reps):
        for name in cost:  # interleaved: today, playable, today, ...
            cmd = ladder_command(clip, tmp / f"{name}{rep}", today=name == "today")
            wall, cpu = encode_cost(cmd, tmp / f"{name}{rep}")
            cost[name][0].append(wall)
            cost[name][1].append(cpu)
        for backend in ("fs", "s3"):
            runs[backend].append(one_upload(seconds, backend, cancel=False))
            if long_seconds:
                runs[f"{backend}_long"].append(one_upload(long_seconds, backend, cancel=True))
        print(f"  rep {rep + 1}: {json.dumps({k: v[-1] for k, v in runs.items() if v})}", flush=True)
    med = statistics.median
    section: dict[str, float] = {"seconds": seconds, "long_seconds": long_seconds}
    for name, (walls, cpus) in cost.items():
        section[f"encode_{name}_s"], section[f"encode_{name}_cpu_s"] = med(walls), med(cpus)
    section["encode_wall_ratio"] = section["encode_playable_s"] / section["encode_today_s"]
    section["encode_cpu_ratio"] = section["encode_playable_cpu_s"] / section["encode_today_cpu_s"]
    for key, found in runs.items():
        for figure in ("playable_s", "ready_s", "ladder_s", "worker_cpu_s"):
            values = [run[figure] for run in found if figure in run]
            if values:
                section[f"{key}_{figure}"] = med(values)
    results["playable"] = section
