"""End-to-end platform time for a 10 s 1080p clip next to the raw ffmpeg ladder on the same clip.

Both run in this one process's session, interleaved (ffmpeg, platform, ffmpeg, ...),
so machine noise hits both alike. Prints absolute times for context and the ratio.

    .venv/bin/python bench/e2e_vs_ffmpeg.py [--seconds 10] [--reps 2]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from media_tasks.pipeline.probe import ProbeLimits, probe  # noqa: E402
from media_tasks.pipeline.video import EncodeSettings, encode_ladder_command, plan_ladder  # noqa: E402
from tests.media import make_video  # noqa: E402

LADDER = [1080, 720, 480, 360]


def raw_ffmpeg(clip: Path, out: Path) -> float:
    info = probe(clip, ProbeLimits(max_duration_s=86400, max_pixels=10**9))
    cmd = encode_ladder_command(clip, info, plan_ladder(info, LADDER), out, EncodeSettings())
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - started


def platform(seconds: float) -> float:
    env = {**os.environ, "E2E_CLIP_SECONDS": str(seconds)}
    test = "tests/e2e/test_upload_to_renditions.py::test_video_upload_becomes_a_playable_ladder_on_s3"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"job succeeded in ([\d.]+)s", proc.stdout)
    if proc.returncode != 0 or not match:
        sys.exit(f"the end-to-end run failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_video(Path(tmp) / "clip.mp4", width=1920, height=1080, duration=args.seconds)
        raw, e2e = [], []
        for rep in range(args.reps):
            raw.append(raw_ffmpeg(clip, Path(tmp) / f"raw-{rep}"))
            e2e.append(platform(args.seconds))
            print(f"rep {rep + 1}: raw ffmpeg ladder {raw[-1]:.2f}s, platform end to end {e2e[-1]:.2f}s", flush=True)
    raw_s, e2e_s = statistics.median(raw), statistics.median(e2e)
    print()
    print(f"| {args.seconds:g} s 1080p30 clip, {os.cpu_count()} cores | median of {args.reps} |")
    print("|---|---|")
    print(f"| raw ffmpeg one-decode ladder (1080/720/480/360p) | {raw_s:.2f} s |")
    print(f"| platform: upload accepted → renditions, HLS, thumbnails on S3 | {e2e_s:.2f} s |")
    print(f"| ratio platform / raw ffmpeg | {e2e_s / raw_s:.2f} |")


if __name__ == "__main__":
    main()
