"""What every benchmark section shares: the ladder, timers, the share of cores busy, the figures."""

from __future__ import annotations

import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from media_tasks.pipeline import video
from media_tasks.pipeline.probe import ProbeLimits, probe

LADDER = [1080, 720, 480, 360]
LIMITS = ProbeLimits(max_duration_s=86400, max_pixels=10**9)
# Section name → its figures; bench/run.py writes them to docs/benchmarks.json.
results: dict[str, dict] = {}


def encode_cost(run: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds and CPU-seconds (user + system) of the processes `run` starts and waits for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class CpuMeter:
    """Share of all cores busy while a block runs (from /proc/stat)."""

    def __enter__(self) -> CpuMeter:
        self.start = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._read()
        busy, total = end[0] - self.start[0], end[1] - self.start[1]
        self.busy = busy / total if total else 0.0

    @staticmethod
    def _read() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)


def interleave(reps: int, **contenders: Callable[[], object]) -> dict[str, float]:
    """Median seconds per contender, run A, B, A, B, ... so machine drift hits all alike."""
    return {name: statistics.median(times) for name, (times, _) in interleave_busy(reps, **contenders).items()}


def interleave_busy(reps: int, **contenders: Callable[[], object]) -> dict[str, tuple[list[float], list[float]]]:
    """Like `interleave`, with every run's seconds and share of the cores busy."""
    runs: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in contenders}
    for _ in range(reps):
        for name, fn in contenders.items():
            with CpuMeter() as meter:
                runs[name][0].append(timed(fn))
            runs[name][1].append(meter.busy)
    return runs


def one_decode(clip: Path, out: Path, threads: int = 0) -> None:
    """(a): the whole ladder from one decode, the platform's own ffmpeg command run alone: every
    stream written once, as CMAF, as the platform's encode writes it."""
    info = probe(clip, LIMITS)
    out.mkdir(parents=True, exist_ok=True)
    rungs = video.plan_ladder(info, LADDER)
    settings = video.EncodeSettings(threads=threads)
    cmd = video.encode_ladder_command(clip.absolute(), info, rungs, out, settings)
    subprocess.run(cmd, check=True, cwd=out)  # names in the command are relative to the output directory
