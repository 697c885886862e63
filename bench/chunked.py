"""Chunked encoding against whole-file encoding: across workers with x264 pinned, on this box,
and on a many-core box (`--only manycore`, run where there are many cores)."""

from __future__ import annotations

import concurrent.futures
import os
import statistics
from pathlib import Path

from bench.common import LADDER, LIMITS, interleave, interleave_busy, one_decode, results
from media_tasks.pipeline import chunks, video
from media_tasks.pipeline.probe import ffprobe_json, probe
from tests.media import make_video


def chunked(clip: Path, out: Path, workers: int, threads: int, chunk_seconds: float) -> None:
    """The chunked transcode as the workers run it (services/transcode.py, tasks.py): each chunk
    finds its own two cuts and encodes its span's ladder but the lead from one decode; the lead rung
    and the sound are the chord's first member; then every chunked rung is joined in one ffmpeg."""
    info = probe(clip, LIMITS)
    rungs = video.plan_ladder(info, LADDER)
    count = len(chunks.plan_spans(info.duration, chunk_seconds, frame_rate=info.frame_rate))
    settings = video.EncodeSettings(threads=threads)
    out.mkdir(parents=True, exist_ok=True)

    def encode(i: int) -> dict[str, Path]:
        span = chunks.plan_chunks(clip, info, chunk_seconds, index=i)[i]
        return video.encode_ladder(clip, info, rungs[:-1], out / f"c{i}", settings=settings, span=span)

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:  # each thread drives one ffmpeg process
        lead = pool.submit(
            video.encode_ladder, clip, info, rungs[-1:], out / "lead", settings=settings, segmented=[rungs[-1].name]
        )
        encoded = [pool.submit(encode, i) for i in range(count)]
        pieces = [done.result() for done in encoded]
        lead.result()
    chunks.join(rungs[:-1], {rung.name: [p[rung.name] for p in pieces] for rung in rungs[:-1]}, out)


def bench_chunks(tmp: Path, reps: int, seconds: float) -> None:
    clip = make_video(tmp / "long.mp4", width=1920, height=1080, duration=seconds, noise=True, tone=300)
    cores = os.cpu_count() or 1
    pinned = interleave(
        reps,
        whole_1_worker=lambda: one_decode(clip, tmp / "w1", threads=1),
        chunked_2_workers=lambda: chunked(clip, tmp / "c2", workers=2, threads=1, chunk_seconds=seconds / 4),
    )
    runs = interleave_busy(
        reps,
        whole=lambda: one_decode(clip, tmp / "w"),
        chunked=lambda: chunked(clip, tmp / "c", workers=cores, threads=1, chunk_seconds=seconds / 4),
    )
    mine = {name: (statistics.median(times), statistics.median(busy)) for name, (times, busy) in runs.items()}
    results["chunks"] = {
        "seconds": seconds,
        "cores": cores,
        "pinned_whole_1_worker_s": pinned["whole_1_worker"],
        "pinned_chunked_2_workers_s": pinned["chunked_2_workers"],
        "two_over_one_worker": pinned["chunked_2_workers"] / pinned["whole_1_worker"],
        "whole_s": mine["whole"][0],
        "whole_busy": mine["whole"][1],
        "chunked_s": mine["chunked"][0],
        "chunked_busy": mine["chunked"][1],
        "chunked_over_whole": mine["chunked"][0] / mine["whole"][0],
    }


def frame_counts(folder: Path) -> dict[str, int]:
    """Video packets per rung file in `folder` (one per frame), counted by ffprobe without decoding."""
    counts = {}
    for rung in sorted(folder.glob("*p.mp4")):
        data = ffprobe_json(rung, "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets")
        counts[rung.stem] = int(data["streams"][0]["nb_read_packets"])
    return counts


def bench_manycore(tmp: Path, reps: int, seconds: float) -> None:
    """Whole-file (x264's own threads) against chunked layouts that fill every core: `cores / t`
    chunks of `t` x264 threads, all at once, and the platform's defaults (a worker process per
    core, x264 choosing its threads). Frame counts per rung must match the whole-file encode."""
    cores = os.cpu_count() or 1
    clip = make_video(tmp / "many.mp4", width=1920, height=1080, duration=seconds, noise=True, tone=500)
    layouts = {"whole": lambda: one_decode(clip, tmp / "whole")}
    shapes = {f"{cores // t}x{t}": (cores // t, t) for t in (2, 1)} | {f"{cores}xauto": (cores, 0)}
    for name, (workers, threads) in shapes.items():
        layouts[name] = lambda w=workers, t=threads, n=name: chunked(clip, tmp / n, w, t, chunk_seconds=seconds / w)
    runs = interleave_busy(reps, **layouts)
    whole_frames = frame_counts(tmp / "whole")
    figures = {
        name: {
            "seconds": statistics.median(times),
            "busy": statistics.median(busy),
            "frames_match": name == "whole" or frame_counts(tmp / name) == whole_frames,
        }
        for name, (times, busy) in runs.items()
    }
    results["manycore"] = {
        "seconds": seconds,
        "cores": cores,
        "cpu": cpu_model(),
        "frames": whole_frames,
        "layouts": figures,
    }


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"
